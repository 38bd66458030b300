import { defineMessages } from '../../define-messages.ts';

export const sources = defineMessages(
  {
    title: 'Sources',
  },
  {
    title: 'Sources',
  },
);
