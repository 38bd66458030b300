/**
 * A screen's strings in English and French. French must have every English key (the compiler says
 * which one is missing), so no string of the console is left untranslated.
 */
export function defineMessages<const En extends Record<string, string>>(
  en: En,
  fr: { readonly [K in keyof En]: string },
): { readonly en: En; readonly fr: { readonly [K in keyof En]: string } } {
  return { en, fr };
}

export const languages = ['en', 'fr'] as const;
export type Language = (typeof languages)[number];
