import { Stack, Tabs, Text, Title } from '@mantine/core';
import { IconBell, IconBolt, IconWebhook } from '@tabler/icons-react';
import { useNavigate, useParams } from 'react-router';
import { useSession } from '../session.ts';
import { NotificationsPanel } from './AutomationNotifications.tsx';
import { RulesPanel } from './AutomationRules.tsx';
import { WebhooksPanel } from './AutomationWebhooks.tsx';

const tabs = ['rules', 'webhooks', 'notifications'] as const;
type Tab = (typeof tabs)[number];

/** Rules, webhooks and your alerts: what happens when mail arrives, bounces or a contact changes. */
export function AutomationPage() {
  const { tab } = useParams();
  const navigate = useNavigate();
  const session = useSession();
  const isAdmin = session.data?.user.role === 'admin';
  const current: Tab = tabs.includes(tab as Tab) ? (tab as Tab) : 'rules';
  return (
    <Stack gap="md">
      <Stack gap={2}>
        <Title order={1} size="h2">
          Automation
        </Title>
        <Text c="dimmed" size="sm">
          Rules act on events such as “email received from a contact”: they change scores and tags, alert
          people and call webhooks.
        </Text>
      </Stack>
      <Tabs
        value={current}
        onChange={(value) => void navigate(value === 'rules' ? '/automation' : `/automation/${value}`)}
        keepMounted={false}
      >
        <Tabs.List>
          <Tabs.Tab value="rules" leftSection={<IconBolt size={16} aria-hidden />}>
            Rules
          </Tabs.Tab>
          {isAdmin && (
            <Tabs.Tab value="webhooks" leftSection={<IconWebhook size={16} aria-hidden />}>
              Webhooks
            </Tabs.Tab>
          )}
          <Tabs.Tab value="notifications" leftSection={<IconBell size={16} aria-hidden />}>
            Notifications
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="rules" pt="md">
          <RulesPanel canEdit={isAdmin} />
        </Tabs.Panel>
        {isAdmin && (
          <Tabs.Panel value="webhooks" pt="md">
            <WebhooksPanel />
          </Tabs.Panel>
        )}
        <Tabs.Panel value="notifications" pt="md">
          <NotificationsPanel />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
