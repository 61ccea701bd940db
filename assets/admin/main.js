// The admin console: the sign-in form until an administrator signs in, then the view the
// address names. Everything goes through latchkey's public GraphQL API.
import { h, mount } from './dom.js';
import { currentRoute, onRouteChange } from './router.js';
import { isSuperadmin, onChange, user } from './session.js';
import { newUserView } from './views/new-user.js';
import { organizationsView } from './views/organizations.js';
import { rolesView } from './views/roles.js';
import { shell } from './views/shell.js';
import { signInView } from './views/sign-in.js';
import { userView } from './views/user.js';
import { usersView } from './views/users.js';

const app = document.getElementById('app');

function view(route) {
  switch (route.view) {
    case 'user':
      return userView(route.id);
    case 'new-user':
      return newUserView();
    case 'organizations':
      return isSuperadmin() ? organizationsView() : forbidden();
    case 'roles':
      return isSuperadmin() ? rolesView() : forbidden();
    default:
      return usersView();
  }
}

const forbidden = () => h('p', { class: 'status error', role: 'alert' }, 'FORBIDDEN: superadmins only.');

function render(reason) {
  if (!user()) {
    mount(app, signInView(reason));
    return;
  }
  const route = currentRoute();
  const frame = shell(route);
  mount(frame.content, view(route));
  mount(app, frame.element);
}

onChange((_user, reason) => {
  // A refresh changes nothing on screen.
  if (reason !== 'refreshed') render(reason);
});
onRouteChange(() => render());
render();
