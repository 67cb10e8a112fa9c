// Runs the graphql-http server audits (GraphQL-over-HTTP spec) against a URL; exits 1 on any MUST or SHOULD failure.
import { serverAudits } from 'graphql-http';
const url = process.argv[2];
const token = process.argv[3];
const results = await Promise.all(serverAudits({ url, fetchFn: (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  if (token) headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}}).map(async (a) => ({ id: a.id, name: a.name, ...(await a.fn()) })));
let fails = 0;
for (const r of results) {
  if (r.status !== 'ok') { console.log(r.status.toUpperCase(), r.name, r.reason || ''); if (r.name.startsWith('MUST') || r.name.startsWith('SHOULD')) fails++; }
}
console.log(`${results.filter(r => r.status === 'ok').length} ok, ${fails} MUST/SHOULD not ok of ${results.length}`);
process.exit(fails ? 1 : 0);
