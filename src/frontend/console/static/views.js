// The console's views. Tenant strings are passed to el() as children, i.e. as text nodes.
import { functionCharts } from './charts.js';
import { api, el, every } from './console.js';

const TABS = ['configuration', 'versions', 'aliases', 'monitor', 'logs', 'test'];
const fmtTime = (ms) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
const fmtAge = (ms) => (ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

function table(headers, rows, attrs = {}) {
  return el('table', attrs, el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))), el('tbody', {}, rows));
}

function pairs(object, attrs = {}) {
  const rows = Object.entries(object).map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', { class: 'mono' }, typeof v === 'string' ? v : JSON.stringify(v))));
  return rows.length ? table(['Key', 'Value'], rows, attrs) : el('p', attrs, 'None.');
}

export async function renderFunctions(view) {
  const { functions } = await api('functions');
  view.append(el('h2', {}, 'Functions'));
  if (functions.length === 0) return view.append(el('p', {}, 'No functions yet.'));
  view.append(table(['Name', 'Runtime', 'Memory (MB)', 'Description', 'Last modified'], functions.map((fn) => el('tr', { 'data-function': fn.name },
    el('td', {}, el('a', { href: `#/functions/${encodeURIComponent(fn.name)}` }, fn.name)),
    el('td', {}, fn.runtime ?? 'image'), el('td', {}, fn.memoryMb), el('td', { class: 'description' }, fn.description), el('td', {}, fmtTime(fn.lastModifiedMs)),
  )), { id: 'functions' }));
}

export async function renderFunction(view, name, tab) {
  const detail = await api(`functions/${encodeURIComponent(name)}`);
  const tabs = el('div', { class: 'tabs', role: 'tablist' }, TABS.map((t) => el('button', {
    type: 'button', role: 'tab', id: `tab-${t}`, 'aria-selected': t === tab ? 'true' : 'false',
    onclick: () => { location.hash = `#/functions/${encodeURIComponent(name)}/${t}`; },
  }, t[0].toUpperCase() + t.slice(1))));
  const panel = el('div', { id: `panel-${tab}` });
  view.append(el('h2', { id: 'function-name' }, name), el('p', { id: 'function-description' }, detail.configuration.Description ?? ''), tabs, panel);
  await PANELS[tab]?.(panel, name, detail);
}

const PANELS = {
  configuration(panel, _name, detail) {
    const { Environment, ...config } = detail.configuration;
    panel.append(el('h3', {}, 'Configuration'), pairs(config, { id: 'configuration' }),
      el('h3', {}, 'Environment variables'), pairs(Environment?.Variables ?? {}, { id: 'environment' }),
      el('h3', {}, 'Tags'), pairs(detail.tags, { id: 'tags' }));
  },
  versions(panel, _name, detail) {
    panel.append(el('h3', {}, 'Versions'), table(['Version', 'Description', 'Code SHA-256', 'Last modified'], detail.versions.map((v) => el('tr', { 'data-version': v.Version },
      el('td', {}, v.Version), el('td', {}, v.Description), el('td', { class: 'mono' }, v.CodeSha256), el('td', {}, v.LastModified),
    )), { id: 'versions' }));
  },
  aliases(panel, _name, detail) {
    panel.append(el('h3', {}, 'Aliases'), table(['Alias', 'Version', 'Routing', 'Description'], detail.aliases.map((a) => el('tr', { 'data-alias': a.Name },
      el('td', {}, a.Name), el('td', {}, a.FunctionVersion), el('td', { class: 'mono' }, JSON.stringify(a.RoutingConfig?.AdditionalVersionWeights ?? {})), el('td', {}, a.Description),
    )), { id: 'aliases' }));
  },
  monitor(panel, name) {
    const box = el('div', { class: 'charts', id: 'charts' });
    panel.append(el('h3', {}, 'Invocations, errors, throttles and cold starts (served by this frontend)'), box);
    const charts = functionCharts(box);
    every(5000, async () => charts.update((await api(`functions/${encodeURIComponent(name)}/charts`)).points));
  },
  logs(panel, name, detail) {
    const lines = el('pre', { id: 'log-lines', 'aria-live': 'polite' });
    const group = detail.configuration.LoggingConfig?.LogGroup ?? `/aws/lambda/${name}`;
    panel.append(el('h3', {}, `Log group ${group} (live)`), lines);
    let cursor;
    every(1000, async () => {
      const query = cursor ? `?afterTime=${cursor.timestamp}&afterId=${encodeURIComponent(cursor.id)}` : '';
      const { events } = await api(`functions/${encodeURIComponent(name)}/logs${query}`);
      for (const e of events) lines.append(el('div', { class: 'log-line' }, `${fmtTime(e.timestamp)}  ${e.message.replace(/\n$/, '')}`));
      if (events.length) {
        cursor = events[events.length - 1];
        lines.scrollTop = lines.scrollHeight;
      }
    });
  },
  test(panel, name, detail) {
    const qualifier = el('select', { id: 'invoke-qualifier' }, el('option', { value: '' }, '$LATEST'),
      detail.versions.map((v) => el('option', { value: v.Version }, `version ${v.Version}`)), detail.aliases.map((a) => el('option', { value: a.Name }, `alias ${a.Name}`)));
    const payload = el('textarea', { id: 'invoke-payload' }, '{}');
    const result = el('div', { id: 'invoke-result' });
    const run = async (event) => {
      event.preventDefault();
      result.replaceChildren(el('p', {}, 'Invoking…'));
      try {
        const out = await api(`functions/${encodeURIComponent(name)}/invoke`, { qualifier: qualifier.value, payload: payload.value });
        result.replaceChildren(
          el('p', { id: 'invoke-status' }, out.functionError ? `Function error (${out.functionError})` : 'Succeeded', ` — version ${out.executedVersion}, request ${out.requestId}`),
          el('pre', { id: 'invoke-response' }, out.payload));
      } catch (err) {
        result.replaceChildren(el('p', { class: 'error', id: 'invoke-error' }, String(err.message ?? err)));
      }
    };
    panel.append(el('form', { id: 'invoke-form', onsubmit: run }, el('label', {}, 'Qualifier ', qualifier), el('label', {}, 'Event (JSON)', payload),
      el('button', { type: 'submit', id: 'invoke-button' }, 'Invoke')), result);
  },
};

export async function renderEnvironments(view) {
  const box = el('div', { id: 'environments' });
  view.append(el('h2', {}, 'Live environments'), box);
  every(2000, async () => {
    const { workers } = await api('environments');
    box.replaceChildren(...(workers.length ? workers.map((w) => el('section', { 'data-worker': w.workerId },
      el('h3', {}, `Worker ${w.workerId}`),
      w.stems === null ? '' : el('p', { class: 'stems' }, `Warm-pool stems: ${w.stems}`),
      table(['Function', 'Account', 'Version', 'State', 'Provisioned', 'Memory (MB)', 'Age'], w.environments.map((e) => el('tr', { 'data-function': e.functionName, 'data-state': e.state },
        el('td', {}, e.functionName), el('td', {}, e.accountId), el('td', {}, e.version), el('td', { class: `state-${e.state}` }, e.state),
        el('td', {}, e.provisioned ? 'yes' : ''), el('td', {}, e.memoryMb), el('td', {}, fmtAge(e.ageMs)),
      ))))) : [el('p', {}, 'No environments right now.')]));
  });
}
