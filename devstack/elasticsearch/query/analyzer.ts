/**
 * The `standard` analyzer, approximately: Unicode word segmentation (UAX #29 word characters, with `.`, `'` and `:`
 * joining letters or digits on both sides, as "u.s.a", "don't" and "3.14" stay one token), then lowercase.
 * Tokens longer than 255 characters are split, as the standard tokenizer's `max_token_length` does.
 */
const WORD = /[\p{L}\p{N}\p{M}_]+(?:[.'’:][\p{L}\p{N}\p{M}_]+)*/gu;
const MAX_TOKEN_LENGTH = 255;

export function analyze(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.matchAll(WORD)) {
    const token = match[0].toLowerCase();
    for (let i = 0; i < token.length; i += MAX_TOKEN_LENGTH) tokens.push(token.slice(i, i + MAX_TOKEN_LENGTH));
  }
  return tokens;
}
