// Starts GraphiQL against latchkey's own endpoint. Kept in a file (not inline in the page) so
// that the page's Content-Security-Policy can refuse every inline script.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // Headers hold bearer tokens: keep them out of localStorage.
      shouldPersistHeaders: false,
      defaultQuery: '# Sign up or log in, copy the accessToken, and add a header\n' +
        '# {"Authorization": "Bearer <accessToken>"} in the Headers tab below.\n\n' +
        'query Me {\n  me {\n    id\n    email\n    name\n    emailVerified\n  }\n}\n'
    })
  );
})();
