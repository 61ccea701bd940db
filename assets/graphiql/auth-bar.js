// The small panel above GraphiQL that says which token the playground sends, until when, and
// lets the user forget it. Text only: nothing from an answer is parsed as HTML.
import { forget, onChange } from './auth-token.js';

const short = (token) => `${token.slice(0, 10)}…${token.slice(-6)}`;

export function mountAuthBar(bar) {
  const render = (tokens, note) => {
    bar.replaceChildren();
    if (!tokens) {
      bar.hidden = !note || note === 'forgotten';
      if (note && note !== 'forgotten') bar.append(text('span', note));
      return;
    }
    bar.hidden = false;
    const until = tokens.expiresAt ? ` · expires ${new Date(tokens.expiresAt).toLocaleTimeString()}` : '';
    const renew = tokens.refreshToken ? ', then refreshed' : ' (no refreshToken selected: not renewed)';
    const forgetButton = text('button', 'Forget token');
    forgetButton.type = 'button';
    forgetButton.id = 'auth-forget';
    forgetButton.addEventListener('click', () => forget('forgotten'));
    bar.append(
      text('span', 'Bearer: '),
      text('strong', tokens.who),
      text('code', ` ${short(tokens.accessToken)}`),
      text('span', `${until}${renew} · sent unless the Headers tab sets Authorization`),
      forgetButton,
    );
  };
  onChange(render);
}

function text(tag, content) {
  const element = document.createElement(tag);
  element.textContent = content;
  return element;
}
