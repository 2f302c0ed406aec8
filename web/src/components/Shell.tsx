import {
  AppShell,
  Avatar,
  Burger,
  Group,
  Menu,
  NavLink,
  Text,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import { useDisclosure, useMediaQuery } from '@mantine/hooks';
import {
  IconAddressBook,
  IconBolt,
  IconChevronDown,
  IconKey,
  IconLogout,
  IconMail,
  IconMailbox,
  IconShieldCheck,
} from '@tabler/icons-react';
import { useQueryClient } from '@tanstack/react-query';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';
import { api, type Me } from '../api.ts';

const links = [
  { to: '/accounts', label: 'Accounts', icon: IconMail },
  { to: '/mailbox', label: 'Mailbox', icon: IconMailbox },
  { to: '/contacts', label: 'Contacts', icon: IconAddressBook },
  { to: '/automation', label: 'Automation', icon: IconBolt },
  { to: '/admin', label: 'Admin', icon: IconShieldCheck, adminOnly: true },
];

export function Shell({ me }: { me: NonNullable<Me> }) {
  const [opened, { toggle, close }] = useDisclosure(false);
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  // Below the sm breakpoint the navigation slides in over the page; while it is shut it is out of
  // reach of the keyboard and screen readers too, not only out of sight.
  const mobile = useMediaQuery('(max-width: 47.99em)');
  const navHidden = mobile === true && !opened;

  async function logOut() {
    try {
      await api.logOut();
    } finally {
      queryClient.clear();
      void navigate('/login', { replace: true });
    }
  }

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={opened ? 'Close navigation' : 'Open navigation'}
              aria-expanded={opened}
              aria-controls="main-navigation"
            />
            <Text fw={700} size="lg" component={Link} to="/accounts" c="indigo.7" td="none">
              Mailroom
            </Text>
            <Text c="dimmed" size="sm" visibleFrom="xs" truncate maw={220}>
              {me.organisation.name}
            </Text>
          </Group>
          <Menu position="bottom-end" width={220}>
            <Menu.Target>
              <UnstyledButton aria-label={`Account menu for ${me.user.name}`}>
                <Group gap={6} wrap="nowrap">
                  <Avatar size="sm" color="indigo" name={me.user.name} aria-hidden />
                  <Text size="sm" visibleFrom="sm" truncate maw={180}>
                    {me.user.name}
                  </Text>
                  <IconChevronDown size={14} aria-hidden />
                </Group>
              </UnstyledButton>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Label>
                {me.user.email}
                <VisuallyHidden>, {me.user.role}</VisuallyHidden>
              </Menu.Label>
              <Menu.Item
                component={Link}
                to="/settings/tokens"
                leftSection={<IconKey size={16} aria-hidden />}
              >
                API tokens
              </Menu.Item>
              <Menu.Divider />
              <Menu.Item leftSection={<IconLogout size={16} aria-hidden />} onClick={() => void logOut()}>
                Log out
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar
        p="xs"
        component="nav"
        aria-label="Main"
        id="main-navigation"
        inert={navHidden}
        style={navHidden ? { visibility: 'hidden' } : undefined}
      >
        {links
          .filter((link) => !link.adminOnly || me.user.role === 'admin')
          .map((link) => {
            const active = location.pathname === link.to || location.pathname.startsWith(`${link.to}/`);
            return (
              <NavLink
                key={link.to}
                component={Link}
                to={link.to}
                label={link.label}
                leftSection={<link.icon size={18} aria-hidden />}
                active={active}
                aria-current={active ? 'page' : undefined}
                onClick={close}
              />
            );
          })}
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
