import { currentLanguage } from '../i18n.ts';

const locales = { en: 'en-GB', fr: 'fr-FR' } as const;

function locale(): string {
  return locales[currentLanguage()];
}

export function formatNumber(
  value: number | null | undefined,
  options: Intl.NumberFormatOptions = {},
): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(locale(), options).format(value);
}

export function formatPercent(share: number | null | undefined): string {
  return formatNumber(share, { style: 'percent', maximumFractionDigits: 1 });
}

export function formatMoney(value: number | null | undefined, currency = 'EUR'): string {
  return formatNumber(value, { style: 'currency', currency });
}

export function formatDateTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

export function formatDate(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium' }).format(date);
}

/** "3 minutes ago", "in 2 days", from the largest unit that fits. */
export function formatRelative(value: string | number | null | undefined, now = Date.now()): string {
  if (value === null || value === undefined || value === '') return '—';
  const seconds = (new Date(value).getTime() - now) / 1000;
  if (Number.isNaN(seconds)) return String(value);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(Math.round(seconds), 'second');
}
