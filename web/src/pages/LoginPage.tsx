import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Skeleton,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { api, ApiError } from '../api.ts';
import { errorText } from '../components/ErrorNotice.tsx';
import { meKey, useSession } from '../session.ts';

function fieldError(error: unknown, field: string): string | undefined {
  return error instanceof ApiError ? error.fields[field] : undefined;
}

/** An error that belongs to no single field, or names fields this form does not show. */
function formError(error: unknown, shown: string[]): string | null {
  if (!error) return null;
  if (error instanceof ApiError && Object.keys(error.fields).length > 0) {
    return Object.keys(error.fields).every((field) => shown.includes(field)) ? null : error.message;
  }
  return errorText(error);
}

function SetupForm() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [values, setValues] = useState({ organisationName: '', name: '', email: '', password: '' });
  const setUp = useMutation({
    mutationFn: () => api.setUp(values),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: meKey });
      void navigate('/accounts', { replace: true });
    },
  });
  const change = (field: keyof typeof values) => (event: { currentTarget: { value: string } }) => {
    const value = event.currentTarget.value;
    setValues((current) => ({ ...current, [field]: value }));
  };
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setUp.mutate();
  };
  const problem = formError(setUp.error, Object.keys(values));
  return (
    <form onSubmit={submit} aria-labelledby="setup-title" noValidate>
      <Stack>
        <div>
          <Title order={1} size="h2" id="setup-title">
            Set up Mailroom
          </Title>
          <Text c="dimmed" size="sm" mt={4}>
            Nobody uses this Mailroom yet. Create your organisation and its first administrator.
          </Text>
        </div>
        {problem && (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        )}
        <TextInput
          label="Organisation"
          required
          autoComplete="organization"
          value={values.organisationName}
          onChange={change('organisationName')}
          error={fieldError(setUp.error, 'organisationName')}
        />
        <TextInput
          label="Your name"
          required
          autoComplete="name"
          value={values.name}
          onChange={change('name')}
          error={fieldError(setUp.error, 'name')}
        />
        <TextInput
          label="Email"
          type="email"
          required
          autoComplete="email"
          value={values.email}
          onChange={change('email')}
          error={fieldError(setUp.error, 'email')}
        />
        <PasswordInput
          label="Password"
          description="At least 8 characters"
          required
          autoComplete="new-password"
          value={values.password}
          onChange={change('password')}
          error={fieldError(setUp.error, 'password')}
        />
        <Button type="submit" loading={setUp.isPending}>
          Create organisation and log in
        </Button>
      </Stack>
    </form>
  );
}

function LoginForm() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/accounts';
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const logIn = useMutation({
    mutationFn: () => api.logIn(email, password),
    onSuccess: async () => {
      await queryClient.invalidateQueries({ queryKey: meKey });
      void navigate(from, { replace: true });
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    logIn.mutate();
  };
  const problem = logIn.error ? errorText(logIn.error) : null;
  return (
    <form onSubmit={submit} aria-labelledby="login-title" noValidate>
      <Stack>
        <Title order={1} size="h2" id="login-title">
          Log in to Mailroom
        </Title>
        {problem && (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        )}
        <TextInput
          label="Email"
          type="email"
          required
          autoComplete="username"
          value={email}
          onChange={(event) => setEmail(event.currentTarget.value)}
        />
        <PasswordInput
          label="Password"
          required
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.currentTarget.value)}
        />
        <Button type="submit" loading={logIn.isPending}>
          Log in
        </Button>
      </Stack>
    </form>
  );
}

/** The login screen; while nobody uses this Mailroom yet, the first-run screen instead. */
export function LoginPage() {
  const session = useSession();
  const setup = useQuery({ queryKey: ['setup'], queryFn: api.setupStatus, staleTime: 0 });
  useEffect(() => {
    document.title = 'Log in · Mailroom';
  }, []);
  if (session.data) return <Navigate to="/accounts" replace />;
  return (
    <Center mih="100vh" p="md" bg="gray.0">
      <Paper withBorder shadow="sm" p="xl" w="100%" maw={420} component="main">
        {setup.isPending ? (
          <Stack aria-busy aria-label="Loading">
            <Skeleton h={32} w="70%" />
            <Skeleton h={58} />
            <Skeleton h={58} />
            <Skeleton h={36} />
          </Stack>
        ) : setup.data?.needed ? (
          <SetupForm />
        ) : (
          <LoginForm />
        )}
      </Paper>
    </Center>
  );
}
