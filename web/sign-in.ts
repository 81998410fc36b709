/// <reference lib="dom" />
/**
 * The hosted dashboard's sign-in: a form per step of {@link AwsSession} (password, new password,
 * authenticator app set-up, one-time code), each failure shown in words next to it. This module and
 * {@link AwsSession} are their own bundle (`sign-in.js`), which only the hosted page loads.
 */
import {
  AwsSession,
  type AwsSessionOptions,
  SignInError,
  SignInErrorCode,
  type SignInStep,
} from './aws-session.js';
import { h, replaceChildren } from './dom.js';
import type { AwsSiteConfig } from './site-config.js';

/** One labelled input of a step's form. */
interface Field {
  readonly name: string;
  readonly label: string;
  readonly type: 'text' | 'password';
  readonly autocomplete: string;
  readonly inputmode?: 'numeric';
  readonly pattern?: string;
}

/**
 * Shows the sign-in in `root` until someone is signed in, and resolves with the session. A session this
 * tab had before a reload is resumed without a form.
 */
export async function signIn(
  root: HTMLElement,
  config: AwsSiteConfig,
  options: AwsSessionOptions & { readonly notice?: string } = {},
): Promise<AwsSession> {
  const session = new AwsSession(config, options);
  if (await session.resume()) return session;
  return new Promise((resolve) => {
    const view = new SignInView(root, session, () => resolve(session));
    view.showPassword(options.notice);
  });
}

class SignInView {
  private readonly panel: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly session: AwsSession,
    private readonly done: () => void,
  ) {
    this.panel = h('section', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' });
    replaceChildren(
      root,
      h(
        'header',
        { class: 'top' },
        h('h1', {}, 'walwatch'),
        h('span', { class: 'tagline' }, 'the latest point you can actually restore to'),
      ),
      h('main', { id: 'content' }, this.panel),
    );
  }

  showPassword(notice?: string): void {
    this.render({
      title: 'Sign in',
      intro: notice ? [h('p', { class: 'form-message', role: 'status' }, notice)] : [],
      fields: [
        { name: 'username', label: 'Username', type: 'text', autocomplete: 'username' },
        { name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' },
      ],
      submit: 'Sign in',
      act: (values) => this.session.signIn(values.username ?? '', values.password ?? ''),
    });
  }

  private show(step: SignInStep): void {
    switch (step.step) {
      case 'signed-in':
        this.done();
        return;
      case 'new-password':
        this.render({
          title: 'Choose a new password',
          intro: [
            h(
              'p',
              { class: 'muted' },
              'Your password was temporary. Choose your own: at least 14 characters with upper- and lower-case letters, a digit and a symbol.',
            ),
          ],
          fields: [
            { name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password' },
            { name: 'repeat', label: 'Repeat it', type: 'password', autocomplete: 'new-password' },
          ],
          submit: 'Set password',
          act: (values) => {
            if (values.password !== values.repeat) {
              throw new SignInError(SignInErrorCode.rejectedPassword, 'The two passwords differ.');
            }
            return this.session.setNewPassword(values.password ?? '');
          },
        });
        return;
      case 'mfa-setup':
        this.render({
          title: 'Set up your authenticator app',
          intro: [
            h(
              'p',
              { class: 'muted' },
              'Every sign-in asks for a one-time code. Add this key to an authenticator app (time-based, 6 digits), then enter the code it shows.',
            ),
            h(
              'p',
              {},
              'Key: ',
              h(
                'code',
                { class: 'totp-secret', 'data-field': 'totp-secret' },
                step.secret.replace(/(.{4})/g, '$1 ').trim(),
              ),
            ),
            h(
              'p',
              { class: 'muted' },
              h('a', { href: step.otpauthUri }, 'Open in an authenticator app on this device'),
            ),
          ],
          fields: [this.codeField()],
          submit: 'Verify',
          act: (values) => this.session.confirmMfaSetup(values.code ?? ''),
        });
        return;
      case 'mfa-code':
        this.render({
          title: 'Enter your one-time code',
          intro: [h('p', { class: 'muted' }, 'The 6-digit code your authenticator app shows for walwatch.')],
          fields: [this.codeField()],
          submit: 'Verify',
          act: (values) => this.session.enterMfaCode(values.code ?? ''),
        });
        return;
    }
  }

  private codeField(): Field {
    return {
      name: 'code',
      label: 'Code',
      type: 'text',
      autocomplete: 'one-time-code',
      inputmode: 'numeric',
      pattern: '[0-9]{6}',
    };
  }

  private render(step: {
    title: string;
    intro: Node[];
    fields: Field[];
    submit: string;
    act: (values: Record<string, string>) => Promise<SignInStep>;
  }): void {
    const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
    const inputs = step.fields.map((field) =>
      h('input', {
        id: `sign-in-${field.name}`,
        name: field.name,
        type: field.type,
        autocomplete: field.autocomplete,
        inputmode: field.inputmode,
        pattern: field.pattern,
        required: true,
        spellcheck: 'false',
        autocapitalize: 'none',
      }),
    );
    const button = h('button', { type: 'submit' }, step.submit);
    const form = h(
      'form',
      { class: 'sign-in-form', 'data-step': step.title },
      ...step.fields.flatMap((field, index) => [
        h('label', { for: `sign-in-${field.name}` }, field.label),
        inputs[index] ?? null,
      ]),
      button,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const values = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
      button.disabled = true;
      error.hidden = true;
      Promise.resolve()
        .then(() => step.act(values))
        .then(
          (next) => this.show(next),
          (failure: unknown) => {
            button.disabled = false;
            const message =
              failure instanceof SignInError
                ? failure.message
                : `Sign-in failed: ${(failure as Error).message}`;
            if (failure instanceof SignInError && failure.code === SignInErrorCode.expired) {
              this.showPassword(message);
              return;
            }
            error.textContent = message;
            error.hidden = false;
            error.dataset.code = failure instanceof SignInError ? failure.code : SignInErrorCode.other;
            inputs.find((input) => input.type === 'password' || input.name === 'code')?.select();
          },
        );
    });
    replaceChildren(this.panel, h('h2', { id: 'sign-in-title' }, step.title), ...step.intro, form, error);
    inputs[0]?.focus();
  }
}
