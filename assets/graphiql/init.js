// Starts GraphiQL against latchkey's own endpoint. Kept in a file (not inline in the page) so
// that the page's Content-Security-Policy can refuse every inline script.
import { authFetcher } from './auth-fetcher.js';
import { mountAuthBar } from './auth-bar.js';

async function defaultTabs() {
  try {
    const response = await fetch('/graphiql/default-tabs.json');
    if (response.ok) return await response.json();
  } catch {
    // Without the tabs, GraphiQL opens with its one empty tab.
  }
  return undefined;
}

mountAuthBar(document.getElementById('auth-bar'));
// Plain request and answer (latchkey has no @defer/@stream): the wrapper reads each answer for
// tokens.
const send = GraphiQL.createFetcher({ url: window.location.origin + '/graphql', enableIncrementalDelivery: false });
const root = ReactDOM.createRoot(document.getElementById('graphiql'));
root.render(
  React.createElement(GraphiQL, {
    fetcher: authFetcher(send),
    defaultTabs: await defaultTabs(),
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    // Headers hold bearer tokens: keep them out of localStorage.
    shouldPersistHeaders: false,
  }),
);
