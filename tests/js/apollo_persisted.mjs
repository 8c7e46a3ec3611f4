// Apollo Client's PersistedQueryLink (automatic persisted queries) with its defaults, sha256 from
// node:crypto, against Switchboard. Driven by tests/test_js_client.py:
//   node apollo_persisted.mjs '{"urls": [first, second], "token": ..., "query": ..., "accept": null | "...", "useGET": bool}'
// Runs the query once through a client of the first server, then once through a client of the
// second, and prints one JSON line: both results and every HTTP request the clients made.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createHash } from "node:crypto";

const { urls, token, query, accept, useGET } = JSON.parse(process.argv[2]);
const requests = [];

async function recordingFetch(uri, options) {
  const url = new URL(uri);
  const body = options.body ? JSON.parse(options.body) : null;
  const sent = options.method === "GET" ? url.searchParams.has("query") : Boolean(body && body.query);
  const response = await fetch(uri, options);
  requests.push({ method: options.method, withQuery: sent, status: response.status });
  return response;
}

function client(uri) {
  const headers = { authorization: `Bearer ${token}` };
  if (accept) headers.accept = accept;
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries: useGET,
  });
  return new ApolloClient({
    link: persisted.concat(new HttpLink({ uri, headers, fetch: recordingFetch })),
    cache: new InMemoryCache(),
  });
}

const results = [];
for (const uri of urls) {
  const { data, error } = await client(uri).query({ query: gql(query), fetchPolicy: "network-only" });
  results.push({ data: data ?? null, error: error ? String(error) : null });
}
process.stdout.write(JSON.stringify({ results, requests }) + "\n");
