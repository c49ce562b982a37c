// Formatting for people: numbers, sizes, durations, dates, names of things.
import type { Kind } from './types';

const intFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function count(n: number | null | undefined): string {
  return n == null ? '—' : intFmt.format(n);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

export function bytes(n: number | null | undefined): string {
  if (n == null) return '—';
  if (n < 1024) return `${intFmt.format(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${oneDecimal.format(v)} ${units[i]}`;
}

export function seconds(s: number): string {
  if (s < 1) return `${oneDecimal.format(s * 1000)} ms`;
  if (s < 60) return `${oneDecimal.format(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export function rate(done: number, elapsedMs: number): string {
  if (elapsedMs <= 0) return '—';
  return `${intFmt.format(Math.round((done * 1000) / elapsedMs))} rows/s`;
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const KINDS: Record<string, string> = {
  contacts: 'Contacts',
  orders: 'Orders',
  order_lines: 'Order lines',
  events: 'Events',
  products: 'Products',
};
export function kindLabel(k: Kind): string {
  return KINDS[k] ?? k;
}

/** Table names as people say them. */
export function tableLabel(t: string): string {
  return KINDS[t] ?? t.replace(/_/g, ' ');
}

export function dateOrderLabel(order: string): string {
  switch (order) {
    case 'month_first':
      return 'Month first (US)';
    case 'day_first':
      return 'Day first';
    case 'not_needed':
      return 'Unambiguous';
    default:
      return order.replace(/_/g, ' ');
  }
}

/** A reason code as a short phrase (`missing_key` → `Missing key`). */
export function codeLabel(code: string): string {
  const s = code.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
