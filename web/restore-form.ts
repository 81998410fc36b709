/// <reference lib="dom" />
/**
 * The restore-plan form: pick a target (a time with a zone, an LSN, or `latest`), see whether it is
 * reachable and, if so, the backup, the timeline and the settings to restore it with — Spilo's `CLONE_*`
 * variables and the plain WAL-G steps.
 */
import type { ApiClient, RestorePlanResponse } from './api.js';
import { h, replaceChildren } from './dom.js';

/** The form and its answer. */
export class RestorePlanForm {
  readonly element: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly result: HTMLElement;
  private sequence = 0;

  constructor(
    private readonly clusterId: string,
    private readonly api: ApiClient,
  ) {
    this.input = h('input', {
      id: 'restore-target',
      name: 'target',
      value: 'latest',
      autocomplete: 'off',
      spellcheck: 'false',
      'aria-describedby': 'restore-target-help',
    });
    this.result = h('div', { class: 'restore-result', 'aria-live': 'polite', 'data-state': 'empty' });
    const latest = h('button', { type: 'button', class: 'secondary' }, 'Latest');
    latest.addEventListener('click', () => void this.plan('latest'));
    const form = h(
      'form',
      { class: 'restore-form' },
      h('label', { for: 'restore-target' }, 'Restore to'),
      this.input,
      h('button', { type: 'submit' }, 'Plan restore'),
      latest,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.plan(this.input.value);
    });
    this.element = h(
      'section',
      { class: 'cluster-restore', 'data-section': 'restore', 'aria-labelledby': 'restore-title' },
      h('h3', { id: 'restore-title' }, 'Restore plan'),
      form,
      h(
        'p',
        { id: 'restore-target-help', class: 'muted' },
        'A time with a zone (2026-11-24T15:00:00Z or +01:00), an LSN (0/5000028), or latest. ',
        'Clicking the chart picks that time.',
      ),
      this.result,
    );
  }

  /** Asks the API for a plan to `target` and shows it. */
  async plan(target: string): Promise<void> {
    this.input.value = target;
    const sequence = ++this.sequence;
    this.result.dataset.state = 'loading';
    replaceChildren(this.result, h('p', { class: 'muted' }, 'Planning…'));
    const answer = await this.api.restorePlan(this.clusterId, target.trim() || 'latest');
    // A slower answer to an older question must not overwrite the newer one.
    if (sequence !== this.sequence) return;
    if (!answer.ok) {
      this.result.dataset.state = 'error';
      replaceChildren(this.result, h('p', { class: 'form-error', role: 'alert' }, answer.message));
      return;
    }
    this.show(answer.value);
  }

  private show(plan: RestorePlanResponse): void {
    this.result.dataset.state = plan.reachable ? 'reachable' : 'unreachable';
    const env = Object.entries(plan.spiloEnv).map(([name, value]) => `${name}=${value}`);
    replaceChildren(
      this.result,
      h(
        'p',
        { class: 'verdict' },
        h(
          'span',
          { class: `badge ${plan.reachable ? 'status-ok' : 'status-critical'}`, 'data-field': 'verdict' },
          plan.reachable ? 'Reachable' : 'Not reachable',
        ),
        ' ',
        plan.reason ? h('span', { 'data-field': 'reason' }, plan.reason) : null,
      ),
      plan.reachable
        ? h(
            'dl',
            { class: 'plan-facts' },
            h('dt', {}, 'Backup'),
            h('dd', { 'data-field': 'backup' }, h('code', {}, plan.backup ?? '—')),
            h('dt', {}, 'Timeline'),
            h('dd', { 'data-field': 'timeline' }, plan.timeline ?? '—'),
            plan.certainty ? h('dt', {}, 'Certainty') : null,
            plan.certainty
              ? h(
                  'dd',
                  {},
                  plan.certainty === 'exact'
                    ? 'exact (commit times or LSNs decide)'
                    : 'upper bound (only archive times are known)',
                )
              : null,
          )
        : null,
      env.length > 0 ? h('h4', {}, 'Spilo clone settings') : null,
      env.length > 0 ? h('pre', { class: 'settings', 'data-field': 'spilo-env' }, env.join('\n')) : null,
      plan.walgSteps.length > 0 ? h('h4', {}, 'Plain WAL-G steps') : null,
      plan.walgSteps.length > 0
        ? h('pre', { class: 'settings', 'data-field': 'walg-steps' }, plan.walgSteps.join('\n'))
        : null,
      plan.notes.length > 0
        ? h('ul', { class: 'notes', 'data-field': 'notes' }, ...plan.notes.map((note) => h('li', {}, note)))
        : null,
    );
  }
}
