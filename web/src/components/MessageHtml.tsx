import { Alert, Button, Group, Skeleton, Stack, Text } from '@mantine/core';
import { IconPhotoOff } from '@tabler/icons-react';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, type Message } from '../api.ts';
import { namesInlineImages, prepareMailHtml } from '../mail-html.ts';

const INLINE_IMAGE_TYPES = /^image\/(?:png|jpeg|gif|webp|avif|bmp)$/i;

function asDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('unreadable'));
    reader.readAsDataURL(blob);
  });
}

/** The message's inline images (cid:) as data: URLs, read from its attachments here, not from afar. */
function useInlineImages(message: Pick<Message, 'id' | 'html' | 'attachments'>) {
  const wanted = message.attachments
    .map((attachment, index) => ({ ...attachment, index }))
    .filter((attachment) => attachment.contentId && INLINE_IMAGE_TYPES.test(attachment.contentType));
  return useQuery({
    queryKey: ['message', message.id, 'inline-images'],
    enabled: Boolean(message.html && namesInlineImages(message.html) && wanted.length > 0),
    staleTime: Infinity,
    queryFn: async () => {
      const images = new Map<string, string>();
      for (const attachment of wanted) {
        try {
          images.set(
            attachment.contentId!,
            await asDataUrl(await api.attachment(message.id, attachment.index)),
          );
        } catch {
          // An image that cannot be read is left out, as a missing one would be.
        }
      }
      return images;
    },
  });
}

const noImages = new Map<string, string>();

/**
 * A message's HTML, sanitised (mail-html.ts) and shown in an iframe that may run no script and has
 * an origin of its own (sandbox without allow-scripts or allow-same-origin): links open in a new tab
 * (allow-popups), nothing else is allowed. Remote images load only after "Show images".
 */
export function MessageHtml({ message }: { message: Pick<Message, 'id' | 'html' | 'attachments'> }) {
  const [showImages, setShowImages] = useState(false);
  const inline = useInlineImages(message);
  const prepared = useMemo(
    () =>
      prepareMailHtml(message.html ?? '', {
        showImages,
        inlineImages: inline.data ?? noImages,
      }),
    [message.html, showImages, inline.data],
  );
  if (inline.isLoading) return <Skeleton h={320} />;
  return (
    <Stack gap="xs">
      {prepared.blockedImages > 0 && (
        <Alert
          color="gray"
          variant="light"
          icon={<IconPhotoOff size={18} aria-hidden />}
          data-testid="remote-images-blocked"
        >
          <Group justify="space-between" gap="xs" wrap="wrap">
            <Text size="sm">
              Remote images are not loaded, so the sender cannot see that you opened this message.
            </Text>
            <Button size="xs" variant="default" onClick={() => setShowImages(true)}>
              Show images
            </Button>
          </Group>
        </Alert>
      )}
      <iframe
        title="Message content"
        data-testid="message-html"
        sandbox="allow-popups allow-popups-to-escape-sandbox"
        referrerPolicy="no-referrer"
        srcDoc={prepared.srcdoc}
        style={{
          width: '100%',
          height: 520,
          border: '1px solid var(--mantine-color-gray-3)',
          borderRadius: 6,
          background: 'white',
          resize: 'vertical',
        }}
      />
    </Stack>
  );
}
