// Starts GraphiQL against the server that served this page: queries and
// mutations over HTTP, subscriptions over a graphql-transport-ws WebSocket on
// the same path. GraphiQL's fetcher sends the headers editor's JSON with every
// HTTP request and, for a subscription, as the WebSocket's connection_init
// payload, so one {"Authorization": "Bearer ..."} there serves both.
(function () {
  "use strict";

  const DEFAULT_QUERY = `# Switchboard GraphiQL
#
# Paste a token after "Bearer " in the Headers tab
# below (switchboard token --role admin --org ORG
# prints one). Queries go over HTTP, subscriptions
# over a WebSocket; both carry that header.
#
# Run: Ctrl-Enter   Complete: Ctrl-Space

{
  viewer {
    role
  }
}
`;

  const DEFAULT_HEADERS = `{
  "Authorization": "Bearer "
}`;

  const endpoint = new URL(window.location.href);
  endpoint.search = "";
  endpoint.hash = "";
  const socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  const graphiqlFetcher = GraphiQL.createFetcher({
    url: endpoint.href,
    subscriptionUrl: socket.href,
  });

  // GraphiQL parses the editor 100 ms after the last keystroke and picks the
  // transport from that parse: a subscription run sooner after an edit went
  // out as an HTTP POST. Parse the text actually sent instead.
  function fetcher(params, options) {
    let documentAST = options && options.documentAST;
    try {
      documentAST = GraphiQL.GraphQL.parse(params.query);
    } catch (syntaxError) {
      // The server reports the syntax error itself.
    }
    return graphiqlFetcher(params, Object.assign({}, options, { documentAST }));
  }

  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [GraphiQLPluginExplorer.explorerPlugin()],
      defaultQuery: DEFAULT_QUERY,
      defaultHeaders: DEFAULT_HEADERS,
      defaultEditorToolsVisibility: "headers",
      isHeadersEditorEnabled: true,
      // A token stays in the page, not in localStorage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    }),
  );
})();
