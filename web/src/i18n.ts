import i18next from 'i18next';
import { initReactI18next } from 'react-i18next';
import { languages, type Language } from './define-messages.ts';
import { namespaces } from './namespaces.ts';

export { namespaces };

type Namespaces = typeof namespaces;
export type Resources = { readonly [N in keyof Namespaces]: Namespaces[N]['en'] };

function resourcesIn(language: Language) {
  return Object.fromEntries(Object.entries(namespaces).map(([name, messages]) => [name, messages[language]]));
}

const storageKey = 'cible.language';

function isLanguage(value: unknown): value is Language {
  return typeof value === 'string' && (languages as readonly string[]).includes(value);
}

function initialLanguage(): Language {
  const saved = localStorage.getItem(storageKey);
  if (isLanguage(saved)) return saved;
  return navigator.language.toLowerCase().startsWith('fr') ? 'fr' : 'en';
}

export function currentLanguage(): Language {
  return isLanguage(i18next.language) ? i18next.language : 'en';
}

export async function changeLanguage(language: Language): Promise<void> {
  localStorage.setItem(storageKey, language);
  document.documentElement.lang = language;
  await i18next.changeLanguage(language);
}

export async function initI18n(): Promise<void> {
  const language = initialLanguage();
  document.documentElement.lang = language;
  await i18next.use(initReactI18next).init({
    resources: { en: resourcesIn('en'), fr: resourcesIn('fr') },
    lng: language,
    fallbackLng: 'en',
    defaultNS: 'common',
    ns: Object.keys(namespaces),
    interpolation: { escapeValue: false },
  });
}
