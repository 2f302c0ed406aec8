export type Category = 'bounce' | 'autoreply' | 'feedback' | 'delivered' | 'none';

export type BounceType = 'hard' | 'soft';

/** Sisimai's reason vocabulary, lowercased, plus the three non-failure reasons. */
export type Reason =
  | 'userunknown'
  | 'hostunknown'
  | 'mailboxfull'
  | 'filtered'
  | 'rejected'
  | 'blocked'
  | 'spamdetected'
  | 'expired'
  | 'suspend'
  | 'norelaying'
  | 'systemerror'
  | 'systemfull'
  | 'mesgtoobig'
  | 'exceedlimit'
  | 'securityerror'
  | 'policyviolation'
  | 'contenterror'
  | 'networkerror'
  | 'notaccept'
  | 'hasmoved'
  | 'toomanyconn'
  | 'speeding'
  | 'onhold'
  | 'mailererror'
  | 'syntaxerror'
  | 'virusdetected'
  | 'badreputation'
  | 'requireptr'
  | 'authfailure'
  | 'notcompliantrfc'
  | 'failedstarttls'
  | 'undefined'
  | 'feedback'
  | 'vacation'
  | 'delivered';

export interface RecipientVerdict {
  address: string | null;
  /** RFC 3464 action: failed, delayed, delivered, relayed, expanded; null when the notice does not say. */
  action: string | null;
  /** RFC 3463 enhanced status code as the notice gave it, e.g. "5.1.1". */
  status: string | null;
  /** SMTP reply code, e.g. "550". */
  replyCode: string | null;
  reason: Reason;
  bounceType: BounceType | null;
  diagnostic: string | null;
  remoteMta: string | null;
}

export interface BounceVerdict {
  category: Category;
  recipients: RecipientVerdict[];
  originalMessageId: string | null;
  envelopeId: string | null;
  verpToken: string | null;
}
