import { defineMessages } from '../../define-messages.ts';

export const signIn = defineMessages(
  {
    title: 'Sign in to Cible',
    email: 'Email',
    password: 'Password',
    submit: 'Sign in',
    submitting: 'Signing in…',
    failed: 'Wrong email or password.',
    locked: 'Too many failed sign-ins: this account is locked for a while. Try again later.',
    tooMany: 'Too many attempts from this address. Wait a minute and try again.',
    tagline: 'Know each customer. Act with their consent.',
  },
  {
    title: 'Connexion à Cible',
    email: 'E-mail',
    password: 'Mot de passe',
    submit: 'Se connecter',
    submitting: 'Connexion…',
    failed: 'E-mail ou mot de passe incorrect.',
    locked: 'Trop de tentatives échouées : ce compte est bloqué pour un moment. Réessayez plus tard.',
    tooMany: 'Trop de tentatives depuis cette adresse. Attendez une minute et réessayez.',
    tagline: 'Connaître chaque client. Agir avec son consentement.',
  },
);
