import { defineMessages } from '../../define-messages.ts';

export const overview = defineMessages(
  {
    title: 'Overview',
  },
  {
    title: 'Overview',
  },
);
