// Baseline (c) of bench/run.py: PostGraphile 5 (Amber preset) over the simgql tables.
//
//   DATABASE_URL=postgres://... PORT=5678 node bench/postgraphile/server.mjs
//
// One Node process, one pg pool (POOL_SIZE, default 10, like simgql's), GraphiQL and
// watch mode off. It does no authentication: the harness passes the tenant as a `condition`,
// so PostGraphile does less work than simgql (no token check, no account lookup).
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const port = Number(process.env.PORT ?? 5678);
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { port, host: "127.0.0.1", graphqlPath: "/graphql", graphiql: false, watch: false },
  grafast: { explain: false },
  
};

const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const server = createServer();
server.on("error", (e) => {
  console.error(e);
  process.exit(1);
});
await serv.addTo(server);
// Build the schema before reporting ready, so the first request is not the one that pays.
await pgl.getSchema();
server.listen(port, "127.0.0.1", () => console.log(`postgraphile listening on ${port}`));
const stop = async () => {
  server.close();
  await pgl.release();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
