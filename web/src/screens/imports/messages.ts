import { defineMessages } from '../../define-messages.ts';

export const imports = defineMessages(
  {
    title: 'Imports',
  },
  {
    title: 'Imports',
  },
);
