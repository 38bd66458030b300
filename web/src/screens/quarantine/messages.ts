import { defineMessages } from '../../define-messages.ts';

export const quarantine = defineMessages(
  {
    title: 'Quarantine',
  },
  {
    title: 'Quarantine',
  },
);
