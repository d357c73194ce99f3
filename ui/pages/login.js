// Login: shown instead of every page while the API answers 401 (the broker has users and this
// browser has no live session). A right password sets the HttpOnly session cookie, which the
// page never sees; then the console starts as usual.
import { api } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';

/** mount(container, onLoggedIn(session)) */
export function mount(container, onLoggedIn) {
  const user = h('input', {
    name: 'user',
    required: true,
    autocomplete: 'username',
    dataset: { testid: 'login-user' },
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    required: true,
    autocomplete: 'current-password',
    dataset: { testid: 'login-password' },
  });
  const message = h('div', { role: 'status', dataset: { testid: 'login-message' } });
  const button = h('button', { type: 'submit', dataset: { testid: 'login-submit' } }, 'Log in');
  const form = h(
    'form',
    { class: 'stacked-form login-form', dataset: { testid: 'login-form' } },
    h('h1', null, 'Log in to Weir'),
    h('label', null, 'User', user),
    h('label', null, 'Password', password),
    button,
    message,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    replace(message);
    try {
      const session = await api('POST', '/api/session', {
        user: user.value,
        password: password.value,
      });
      password.value = '';
      onLoggedIn(session);
    } catch (error) {
      password.value = '';
      replace(
        message,
        h(
          'p',
          { class: 'form-message error', dataset: { testid: 'login-error' } },
          error.status === 401 ? 'Wrong user or password.' : `Not logged in: ${error.message}`,
        ),
      );
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  container.replaceChildren(form);
  user.focus();
}
