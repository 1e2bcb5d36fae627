export { packValue, unpackValue } from './operator-state-codec.ts';
