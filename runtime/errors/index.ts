export { SluiceError, isSluiceError } from './sluice-error.ts';
export type { SluiceErrorCode, SluiceErrorOptions } from './sluice-error.ts';
export { causeChain, messageWithCauses, stackWithCauses } from './error-chain.ts';
