// The example client from the command line, against a running server (README.md, "Walkthrough"):
//   CUSTOMER_ID=$(node -e 'console.log(crypto.randomUUID())')
//   CUSTOMER_TOKEN=$(npm run --silent token -- --sub $CUSTOMER_ID) ADMIN_TOKEN=$(npm run --silent token -- --sub ops --role admin) \
//     CUSTOMER_ID=$CUSTOMER_ID npx tsx examples/client/src/main.ts
import WebSocket from 'ws';
import { runWalkthrough } from './walkthrough.ts';

const base = process.env.SHOP_URL ?? 'http://127.0.0.1:4000';
const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (see the comment at the top of examples/client/src/main.ts)`);
  return value;
};

const result = await runWalkthrough({
  writeUrl: `${base}/graphql/write`,
  readUrl: `${base}/graphql/read`,
  customerId: required('CUSTOMER_ID'),
  customerToken: required('CUSTOMER_TOKEN'),
  adminToken: required('ADMIN_TOKEN'),
  sendDocumentId: process.env.SEND_DOCUMENT_ID === 'true',
  webSocketImpl: WebSocket,
  log: (line) => console.log(line),
});
console.log(`order ${result.orderId}: ${result.statuses.join(' → ')}`);
