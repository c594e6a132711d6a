import { formatValue } from './dom';

/**
 * Everything the panel says in the browser's own locale (no locale is hard-coded): times,
 * relative times, numbers, and the number locale handed to Vega for the charts.
 */

/** Date and time in the browser's locale. */
const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** "vor 3 Minuten", "in 2 hours": Intl's words for the browser's language. */
const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** A non-integer with at most 4 significant digits ("10.05", "10,05"). */
const DECIMAL = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 4 });
const INTEGER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** A local, readable time (the browser's locale) for a title or a table cell. */
export function localTime(iso: string | null): string {
  if (!iso) {
    return '';
  }
  const date = new Date(iso);
  return isNaN(date.getTime()) ? iso : DATE_TIME.format(date);
}

/** "3 minutes ago" / "in 2 hours" (in the browser's language) for an ISO time. */
export function relativeTime(iso: string | null): string {
  if (!iso) {
    return '\u2014';
  }
  const then = new Date(iso).getTime();
  if (isNaN(then)) {
    return iso;
  }
  const seconds = Math.round((then - Date.now()) / 1000);
  const abs = Math.abs(seconds);
  const sign = seconds < 0 ? -1 : 1;
  if (abs < 45) {
    return RELATIVE.format(seconds, 'second');
  }
  if (abs < 3600) {
    return RELATIVE.format(sign * Math.round(abs / 60), 'minute');
  }
  if (abs < 86400 * 2) {
    return RELATIVE.format(sign * Math.round(abs / 3600), 'hour');
  }
  return RELATIVE.format(sign * Math.round(abs / 86400), 'day');
}

/** A metric's number as an analyst reads it, in the browser's locale: integers whole, others
 * with 4 significant digits; anything else as `formatValue` says it. */
export function localNumber(value: unknown): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return formatValue(value);
  }
  return Number.isInteger(value) ? INTEGER.format(value) : DECIMAL.format(value);
}

/** Up to 6 significant digits with the locale's grouping ("12,345.6", "12.345,6"). */
const VALUE = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 });
/** Below 1e-4 or from 1e15 on (as `format_value` on the server): "1.234E-5". */
const VALUE_EXP = new Intl.NumberFormat(undefined, { notation: 'scientific', maximumSignificantDigits: 6 });
/** A percentage of up to 4 significant digits, the locale's way ("1.05%", "1,05 %"). */
const PERCENT = new Intl.NumberFormat(undefined, { style: 'percent', maximumSignificantDigits: 4 });

/** The observed value of a check row, as the server says it (`observed_display`, English)
 * but in the browser's locale; mirrors `checks/display.py: format_value`. */
export interface IObserved {
  observed: unknown;
  observed_display?: string | null;
  unit?: string | null;
}

/**
 * A check's observed number in the browser's locale, from its unit: a count whole and grouped
 * ("8.774" in German), a value with up to 6 significant digits, a percent in the locale's
 * percent style ("1,05 %"). A duration (`seconds`: "1d 0h 34m"), a check without a unit or a
 * non-number keep the server's `observed_display`.
 */
export function localObserved(check: IObserved): string {
  const { observed: value, unit } = check;
  const shown = check.observed_display ?? formatValue(value);
  if (typeof value !== 'number' || !isFinite(value) || !unit || unit === 'seconds') {
    return shown;
  }
  if (unit === 'percent') {
    return PERCENT.format(value / 100);
  }
  if (unit !== 'count' && unit !== 'value') {
    return shown;
  }
  const abs = Math.abs(value);
  if (abs >= 1e15 || (abs !== 0 && abs < 1e-4)) {
    return VALUE_EXP.format(value);
  }
  // Whole numbers, and from a million on whole units, grouped ("1.234.568" in German).
  return Number.isInteger(value) || abs >= 1e6 ? INTEGER.format(value) : VALUE.format(value);
}

/** A d3-format locale definition (what Vega's `config.locale.number` takes). */
export interface INumberLocale {
  decimal: string;
  thousands: string;
  grouping: number[];
  currency: [string, string];
  numerals?: string[];
}

/**
 * The browser's number locale as d3-format wants it, read from Intl (offline: no locale file
 * is fetched): its decimal mark, its group separator and sizes, its digits.
 */
export function numberLocale(locale?: string): INumberLocale {
  const format = new Intl.NumberFormat(locale, { useGrouping: true });
  const parts = format.formatToParts(1234567890.5);
  const decimal = parts.find(p => p.type === 'decimal')?.value ?? '.';
  const groups = parts.filter(p => p.type === 'integer').map(p => p.value.length);
  const thousands = parts.find(p => p.type === 'group')?.value ?? '';
  // d3 cycles through `grouping` from the right: the last group, then the one before it
  // repeated (3,2,2,... for the lakh/crore grouping of en-IN).
  const right = groups[groups.length - 1] ?? 3;
  const next = groups.length > 2 ? groups[groups.length - 2] : right;
  const grouping = next === right ? [right] : [right, ...Array(8).fill(next)];
  const digits = Array.from({ length: 10 }, (_, d) => new Intl.NumberFormat(locale).format(d));
  const out: INumberLocale = { decimal, thousands, grouping, currency: ['', ''] };
  if (digits.join('') !== '0123456789') {
    out.numerals = digits;
  }
  return out;
}

/** A copy of a Vega-Lite spec whose numbers (axis labels, tooltips) follow `numberLocale()`:
 * the locale is the view's own (`config.locale`), not Vega's global default. */
export function withNumberLocale(spec: Record<string, any>, locale?: string): Record<string, any> {
  const config = spec.config ?? {};
  return {
    ...spec,
    config: { ...config, locale: { ...(config.locale ?? {}), number: numberLocale(locale) } }
  };
}
