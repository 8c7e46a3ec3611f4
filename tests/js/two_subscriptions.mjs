// The npm graphql-ws client (what Apollo and urql use) with two subscriptions on one
// connection, as a browser app would open them. Driven by tests/test_js_client.py:
//   node two_subscriptions.mjs '{"url": ..., "token": ..., "allowed": {query, variables}, "forbidden": {...}}'
// It prints one JSON line per thing that happens (connected, next, error, complete, closed)
// and, once stdin closes, {"event": "done", "connected": N} before it disposes of the client.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const { url, token, allowed, forbidden } = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
let connected = 0;

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  lazy: false,
  // Retry whatever closes the socket, as apps commonly configure it: a refused
  // subscription must not close the socket, or this would reconnect in a loop.
  retryAttempts: 20,
  shouldRetry: () => true,
  retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
  on: {
    connected: () => {
      connected += 1;
      print({ event: "connected", count: connected });
    },
    closed: (event) => print({ event: "closed", code: event?.code ?? null }),
  },
});

function watch(op, { query, variables }) {
  client.subscribe(
    { query, variables },
    {
      next: (value) => print({ event: "next", op, value }),
      error: (error) => print({ event: "error", op, error: Array.isArray(error) ? error : String(error) }),
      complete: () => print({ event: "complete", op }),
    },
  );
}

watch("allowed", allowed);
watch("forbidden", forbidden);

process.stdin.resume();
process.stdin.on("end", async () => {
  print({ event: "done", connected });
  await client.dispose();
  process.exit(0);
});
