import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import ts from 'typescript';

// What users import is documented where their editor shows it: every export of the package's entry points has a
// TSDoc comment, every function and class one with an example, and every public member of a class or interface one. Entry points come from package.json's `exports`
// (a compiled file there maps back to its source), so a new entry point is checked without touching this test.

const root = new URL('../../', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { exports: Record<string, string | { default?: string }> };

function entryPoints(): string[] {
  const sources: string[] = [];
  for (const target of Object.values(manifest.exports)) {
    const file = typeof target === 'string' ? target : target.default;
    if (file === undefined || !file.startsWith('./dist/') || !file.endsWith('.js')) continue;
    sources.push(new URL(file.slice('./dist/'.length).replace(/\.js$/, '.ts'), root).pathname);
  }
  return sources;
}

interface Finding {
  entry: string;
  name: string;
  problem: string;
}

function undocumentedExports(): Finding[] {
  const entries = entryPoints();
  const program = ts.createProgram(entries, {
    allowImportingTsExtensions: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const findings: Finding[] = [];
  for (const entry of entries) {
    const file = program.getSourceFile(entry);
    assert.ok(file !== undefined, `entry point ${entry} exists`);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    assert.ok(moduleSymbol !== undefined, `entry point ${entry} is a module`);
    const relative = entry.slice(root.pathname.length);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const docs = (symbol.declarations ?? []).flatMap((d) => ts.getJSDocCommentsAndTags(d).map((doc) => doc.getText()));
      const needsExample = (symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class)) !== 0;
      if (docs.length === 0) findings.push({ entry: relative, name: exported.name, problem: 'no TSDoc comment' });
      else if (needsExample && !docs.some((d) => d.includes('@example'))) findings.push({ entry: relative, name: exported.name, problem: 'no @example' });
      for (const member of undocumentedMembers(symbol)) findings.push({ entry: relative, name: `${exported.name}.${member}`, problem: 'no TSDoc comment' });
    }
  }
  return findings;
}

/**
 * Public members of an exported class or interface without TSDoc: what an editor shows when a user completes
 * `options.` or implements `SinkWriter`. Private, `#` and `@internal` members are not the package's; an overloaded
 * member counts as documented when one of its signatures is.
 */
function undocumentedMembers(symbol: ts.Symbol): string[] {
  if ((symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface)) === 0) return [];
  const documented = new Map<string, boolean>();
  for (const declaration of symbol.declarations ?? []) {
    if (!ts.isClassDeclaration(declaration) && !ts.isInterfaceDeclaration(declaration)) continue;
    for (const member of declaration.members) {
      if (ts.isConstructorDeclaration(member) || member.name === undefined || ts.isPrivateIdentifier(member.name)) continue;
      if ((ts.getCombinedModifierFlags(member) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0) continue;
      const docs = ts.getJSDocCommentsAndTags(member).map((doc) => doc.getText());
      if (docs.some((d) => d.includes('@internal'))) continue;
      const name = member.name.getText();
      documented.set(name, (documented.get(name) ?? false) || docs.length > 0);
    }
  }
  return [...documented].filter(([, has]) => !has).map(([name]) => name);
}

test('every export of the package has TSDoc, every function and class an example, and every public member TSDoc', () => {
  const findings = undocumentedExports();
  assert.deepEqual(
    findings.map((f) => `${f.entry}: ${f.name}: ${f.problem}`),
    [],
    'document these where they are declared (a comment separated from its declaration by another one does not count)',
  );
});
