import { defineMessages } from '../../define-messages.ts';

export const segments = defineMessages(
  {
    title: 'Segments',
  },
  {
    title: 'Segments',
  },
);
