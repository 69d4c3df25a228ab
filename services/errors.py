"""Errors a user or admin can be told about; each carries the text key that explains it."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal with a locale key and its arguments; never holds a secret."""

    key = "error-generic"

    def __init__(self, **args: Any) -> None:
        super().__init__(self.key)
        self.args_for_text = args


class NotDelivered(ServiceError):
    """Telegram did not take a message for the user (the details are logged)."""

    key = "error-generic"


class NoAccess(ServiceError):
    key = "error-no-access"


class NoNodes(ServiceError):
    key = "error-no-nodes"


class NodeUnavailable(ServiceError):
    """The node could not be reached or refused the change; nothing was changed."""

    key = "error-node-unavailable"


class NodeFull(ServiceError):
    """The node's tunnel subnet has no free address left."""

    key = "error-node-full"


class NodesFull(ServiceError):
    """No node that takes devices has a free address left."""

    key = "error-nodes-full"


class TrialsFull(ServiceError):
    """Trial devices hold their share (TRIAL_SHARE) of every node with room left."""

    key = "error-trials-full"


class TrialsBusy(ServiceError):
    """TRIALS_PER_HOUR trials were started in the last hour."""

    key = "error-trials-busy"


class NodeNotFound(ServiceError):
    key = "error-node-not-found"


class NodeKeyUnknown(ServiceError):
    """The node's server private key is not in the database, so it cannot be rebuilt."""

    key = "error-node-key-unknown"


class NoDevice(ServiceError):
    key = "error-no-device"


class UserNotFound(ServiceError):
    key = "error-user-not-found"


class InvalidInput(ServiceError):
    key = "error-invalid-input"


class TrialsOff(ServiceError):
    key = "error-trials-off"


class TrialUsed(ServiceError):
    key = "error-trial-used"


class AlreadyHasAccess(ServiceError):
    key = "error-already-has-access"


class PaymentsOff(ServiceError):
    """No payment provider is set up, or not the one asked for."""

    key = "error-payments-off"


class PlanNotFound(ServiceError):
    key = "error-plan-not-found"


class PaymentUnavailable(ServiceError):
    """The payment provider did not answer in time or failed; nothing was charged."""

    key = "error-payment-unavailable"


class PaymentNotFound(ServiceError):
    key = "error-payment-not-found"


class TermsNotAccepted(ServiceError):
    """OFFER_URL and PRIVACY_URL are set and the user has not accepted them: nothing is charged."""

    key = "error-terms-not-accepted"


class TrialNeedsChannel(ServiceError):
    """The trial is for members of TRIAL_CHANNEL and the user is not one (yet)."""

    key = "error-trial-channel"


class TrialCheckUnavailable(ServiceError):
    """Telegram would not say whether the user is in TRIAL_CHANNEL; the admins are told."""

    key = "error-trial-channel-check"


class AddonUnavailable(ServiceError):
    """That add-on is not sold, or not for this user's access (no paid plan, no traffic limit,
    the most device slots already)."""

    key = "error-addon-unavailable"


class SubscriptionPlanOnly(ServiceError):
    """A Telegram Stars subscription renews every 30 days: only a 30-day plan is sold so."""

    key = "error-subscription-plan"


class NoStarsSubscription(ServiceError):
    key = "error-no-stars-subscription"


class RefundRefused(ServiceError):
    """Telegram refused to give the Stars back; `reason` is its description."""

    key = "refund-failed"


class NodeSetupFailed(ServiceError):
    """Adding or rebuilding a node stopped at a step; `reason` says why, in the node's words."""

    key = "node-add-failed"

    @property
    def reason(self) -> str:
        return str(self.args_for_text.get("reason", ""))


class HostKeyNotAccepted(ServiceError):
    """The node presents another SSH host key than the pinned one: nothing is done on it until
    an admin accepts the new key (`node`, `pinned` and `offered` fingerprints)."""

    key = "error-host-key-changed"


class HostKeyMismatch(ServiceError):
    """The node presents another host key than the operator said to expect (`node`, `expected`,
    `offered`); nothing was changed."""

    key = "error-host-key-mismatch"


class NoHostKeyOffer(ServiceError):
    """The node presented no other host key: there is nothing to accept."""

    key = "error-host-key-none"
