/*
 * simgql: boot the vendored GraphiQL (window.GraphiQL, window.React, window.ReactDOM) with
 * the page's JSON configuration. Everything talks to this server only: queries and
 * mutations are POSTed to the page's own URL, subscriptions go over graphql-transport-ws
 * on the same URL with the headers editor's content as the connection_init payload.
 *
 * A token in the URL fragment (#token=eyJ...) fills the headers editor; the fragment never
 * reaches the server and is removed from the address bar once read.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("simgql-graphiql-config").textContent);
  var endpoint = window.location.pathname;
  var wsUrl =
    (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + endpoint;

  var headers = config.defaultHeaders;
  var fragment = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  var token = fragment.get("token");
  if (token) {
    headers = JSON.stringify({ Authorization: "Bearer " + token.trim() }, null, 2);
    window.history.replaceState(null, "", endpoint + window.location.search);
  }

  var tabs = config.tabs.map(function (tab) {
    return { query: tab.query, variables: tab.variables, headers: headers };
  });

  var fetcher = GraphiQL.createFetcher({
    url: endpoint,
    subscriptionUrl: wsUrl,
    enableIncrementalDelivery: false,
  });

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: tabs,
      defaultHeaders: headers,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
      isHeadersEditorEnabled: true,
    })
  );
})();
