import { useEffect, useState, type RefObject } from 'react';
import { useTranslation } from 'react-i18next';

/**
 * Copies a text to the clipboard and says so. Where the browser gives no clipboard (a page served
 * over plain http from another machine), it selects the text instead, for Ctrl+C.
 */
export function CopyButton({
  text,
  target,
  what,
}: {
  readonly text: string;
  /** The element showing the text, selected when the clipboard is out of reach. */
  readonly target: RefObject<HTMLElement | null>;
  /** What is copied, for screen readers: "the write key". */
  readonly what: string;
}) {
  const { t } = useTranslation();
  const [state, setState] = useState<'idle' | 'copied' | 'selected'>('idle');

  useEffect(() => {
    if (state !== 'copied') return;
    const timer = window.setTimeout(() => setState('idle'), 2000);
    return () => window.clearTimeout(timer);
  }, [state]);

  async function copy() {
    try {
      if (navigator.clipboard === undefined) throw new Error('No clipboard');
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      const element = target.current;
      if (element !== null) window.getSelection()?.selectAllChildren(element);
      setState('selected');
    }
  }

  return (
    <span className="copy">
      <button type="button" aria-label={t('copyWhat', { what })} onClick={() => void copy()}>
        {state === 'copied' ? t('copied') : t('copy')}
      </button>
      <span className={state === 'selected' ? 'muted copy-status' : 'visually-hidden'} role="status">
        {state === 'selected' ? t('copyBySelection') : state === 'copied' ? t('copiedWhat', { what }) : ''}
      </span>
    </span>
  );
}
