import { defineMessages } from '../../define-messages.ts';

export const admin = defineMessages(
  {
    title: 'Admin',
  },
  {
    title: 'Admin',
  },
);
