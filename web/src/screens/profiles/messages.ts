import { defineMessages } from '../../define-messages.ts';

export const profiles = defineMessages(
  {
    title: 'Profiles',
  },
  {
    title: 'Profiles',
  },
);
