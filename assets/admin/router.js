// Hash routes (`#/users/ID`), so every view has an address, back and forward work, and the
// server needs to serve one page only.

const ROUTES = [
  [/^#\/users\/new$/, () => ({ view: 'new-user' })],
  [/^#\/users\/([0-9a-f-]{36})$/, (match) => ({ view: 'user', id: match[1] })],
  [/^#\/organizations$/, () => ({ view: 'organizations' })],
  [/^#\/roles$/, () => ({ view: 'roles' })],
];

export function currentRoute() {
  for (const [pattern, route] of ROUTES) {
    const match = pattern.exec(window.location.hash);
    if (match) return route(match);
  }
  return { view: 'users' };
}

export function go(hash) {
  if (window.location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else window.location.hash = hash;
}

export function onRouteChange(listener) {
  window.addEventListener('hashchange', () => listener(currentRoute()));
}
