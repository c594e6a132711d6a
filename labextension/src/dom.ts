/** Small DOM helpers: the panel is plain DOM inside a Lumino widget. */

export type Child = Node | string | null | undefined | false;

export interface IAttrs {
  [name: string]: string | number | boolean | null | undefined | ((ev: any) => void);
}

/** Create an element; `on*` attributes given functions become event listeners. */
export function h(tag: string, attrs: IAttrs = {}, ...children: (Child | Child[])[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'className') {
      el.className = String(value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** Replace every child of `el`. */
export function replaceChildren(el: HTMLElement, ...children: (Child | Child[])[]): void {
  while (el.firstChild) {
    el.removeChild(el.firstChild);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** "1.2 s", "3 min 4 s". */
export function duration(seconds: number | null): string {
  if (seconds === null || seconds === undefined) {
    return '—';
  }
  if (seconds < 60) {
    return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}

/** A value as written in code (a parameter, a raw observed value): integers plain, others with
 * 4 significant digits, never localized (`localNumber` says a metric in the browser's locale). */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

/** Words shown for a status whose name is not for people. */
const STATUS_LABELS: Record<string, string> = { baseline: 'not judged' };

/** What a status badge says when hovered. */
const STATUS_TITLES: Record<string, string> = {
  baseline: 'an spc line still collecting its baseline: not judged, not a pass'
};

/** A coloured status badge (`success`, `failed`, `running`, `pass`, `warn`, `fail`, ...). */
export function badge(status: string | null | undefined): HTMLElement {
  const text = status || 'never run';
  return h(
    'span',
    {
      className: `jp-DataOps-badge jp-DataOps-status-${text.replace(/\s+/g, '-')}`,
      'data-status': text,
      title: STATUS_TITLES[text]
    },
    STATUS_LABELS[text] ?? text
  );
}

/** A line saying that something is loading. */
export function loading(text: string): HTMLElement {
  return h('div', { className: 'jp-DataOps-loading', 'data-testid': 'dataops-loading' }, text);
}

/** A hint from the server (what to do next). */
export function hint(text: string): HTMLElement {
  return h('div', { className: 'jp-DataOps-hint', 'data-testid': 'dataops-hint' }, text);
}

/** An error said in place of what could not be shown. */
export function errorBox(text: string): HTMLElement {
  return h(
    'div',
    { className: 'jp-DataOps-error', 'data-testid': 'dataops-error', role: 'alert' },
    text
  );
}

/** Where a paged list stands: its first row's position, the page's size and every row's count. */
export interface IPage {
  offset: number;
  limit: number;
  total: number;
}

/** "Newer · 21–40 of 57 · Older" under a paged list (runs, the grid); `go(offset)` shows the
 * page that starts at `offset`. The buttons' test ids are `<testid>-newer` and `<testid>-older`. */
export function pager(page: IPage, testid: string, go: (offset: number) => void): HTMLElement {
  return h(
    'div',
    { className: 'jp-DataOps-pager' },
    h(
      'button',
      {
        className: 'jp-mod-styled jp-DataOps-button',
        'data-testid': `${testid}-newer`,
        disabled: page.offset === 0,
        onclick: () => go(Math.max(0, page.offset - page.limit))
      },
      'Newer'
    ),
    h('span', {}, `${page.offset + 1}\u2013${Math.min(page.offset + page.limit, page.total)} of ${page.total}`),
    h(
      'button',
      {
        className: 'jp-mod-styled jp-DataOps-button',
        'data-testid': `${testid}-older`,
        disabled: page.offset + page.limit >= page.total,
        onclick: () => go(page.offset + page.limit)
      },
      'Older'
    )
  );
}
