import { Center, Loader } from '@mantine/core';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { ErrorNotice } from './components/ErrorNotice.tsx';
import { Shell } from './components/Shell.tsx';
import { AccountSettingsPage } from './pages/AccountSettingsPage.tsx';
import { AccountsPage } from './pages/AccountsPage.tsx';
import { ApiTokensPage } from './pages/ApiTokensPage.tsx';
import { AdminAccountsPage } from './pages/AdminAccountsPage.tsx';
import { AddAccountPage } from './pages/AddAccountPage.tsx';
import { AutomationPage } from './pages/AutomationPage.tsx';
import { ApprovalsPage } from './pages/ApprovalsPage.tsx';
import { AuditPage } from './pages/AuditPage.tsx';
import { ContactPage } from './pages/ContactPage.tsx';
import { ContactsPage } from './pages/ContactsPage.tsx';
import { LoginPage } from './pages/LoginPage.tsx';
import { MailboxPage } from './pages/MailboxPage.tsx';
import { MessagePage } from './pages/MessagePage.tsx';
import { NotFoundPage } from './pages/NotFoundPage.tsx';
import { useSession } from './session.ts';

function RequireSession() {
  const session = useSession();
  const location = useLocation();
  if (session.isPending) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (session.isError) {
    return (
      <Center h="100vh" p="md">
        <ErrorNotice error={session.error} onRetry={() => void session.refetch()} />
      </Center>
    );
  }
  if (!session.data)
    return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Shell me={session.data} />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route element={<RequireSession />}>
        <Route index element={<Navigate to="/accounts" replace />} />
        <Route path="/accounts" element={<AccountsPage />} />
        <Route path="/accounts/new" element={<AddAccountPage />} />
        <Route path="/accounts/:id" element={<AccountSettingsPage />} />
        <Route path="/accounts/:id/:tab" element={<AccountSettingsPage />} />
        <Route path="/admin" element={<ApprovalsPage />} />
        <Route path="/admin/accounts" element={<AdminAccountsPage />} />
        <Route path="/admin/audit" element={<AuditPage />} />
        <Route path="/mailbox" element={<MailboxPage />} />
        <Route path="/messages/:id" element={<MessagePage />} />
        <Route path="/contacts" element={<ContactsPage />} />
        <Route path="/contacts/:id" element={<ContactPage />} />
        <Route path="/automation" element={<AutomationPage />} />
        <Route path="/automation/:tab" element={<AutomationPage />} />
        <Route path="/settings/tokens" element={<ApiTokensPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}
