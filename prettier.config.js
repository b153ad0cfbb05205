// Prettier: `npm run format` rewrites, `npm run lint:format` checks. Chosen to match the code as it was written
// by hand, so that the first format pass changes as little as possible.
/** @type {import('prettier').Config} */
export default {
  // Lines run long here (a resolver's arguments, a log line, a SQL string on one line); 160 is the width at which
  // Prettier would rewrap the fewest files when this was set
  // (printWidth 120: 193 files, 140: 155, 160: 124, 180: 134).
  printWidth: 160,
  singleQuote: true,
  trailingComma: 'all',
  semi: true,
  tabWidth: 2,
  arrowParens: 'always',
  bracketSpacing: true,
  // Objects that were written over several lines stay so, short ones stay on one (Prettier's default, stated).
  objectWrap: 'preserve',
  endOfLine: 'lf',
};
