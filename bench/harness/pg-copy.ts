// The bench's COPY helper is the product's (rebuilds write rows with it).
export { copyFrom } from '../../src/cqrs/pg-copy.ts';
