import { common } from './messages.ts';
import { admin } from './screens/admin/messages.ts';
import { imports } from './screens/imports/messages.ts';
import { overview } from './screens/overview/messages.ts';
import { privacy } from './screens/privacy/messages.ts';
import { profiles } from './screens/profiles/messages.ts';
import { quarantine } from './screens/quarantine/messages.ts';
import { segments } from './screens/segments/messages.ts';
import { signIn } from './screens/sign-in/messages.ts';
import { sources } from './screens/sources/messages.ts';

/** One namespace per screen; each screen's messages.ts holds its English and French strings. */
export const namespaces = {
  common,
  signIn,
  overview,
  sources,
  profiles,
  segments,
  imports,
  quarantine,
  admin,
  privacy,
};
