import { Route, Routes } from 'react-router';
import { ProfileScreen } from './profile-screen.tsx';
import { SearchScreen } from './search-screen.tsx';
import './profiles.css';

/** Profiles: the search, and the 360° view of one person at /profiles/:id. */
export function ProfilesScreen() {
  return (
    <Routes>
      <Route index element={<SearchScreen />} />
      <Route path=":id" element={<ProfileScreen />} />
    </Routes>
  );
}
