"""Every GraphQL document tier0 sends to Linear, one constant each, with the vendor page it follows.

Each document is validated, with the variables we send, against Linear's published schema
(../shared/external/linear/schema.graphql) in tests/linear/test_documents.py, so a renamed field
or a wrong input type fails in CI, not in production. Operation names start with `Tier0` so our
traffic is recognisable in Linear's logs. Selections stay small on purpose: Linear charges every
query by complexity (https://linear.app/developers/rate-limiting), and connections are always
given an explicit `first`, because the default page of 50 multiplies the cost of the children.
"""

from __future__ import annotations

# The fields we read from an issue, shared by every document that returns one.
_ISSUE_FIELDS = """
fragment Tier0IssueFields on Issue {
  id
  identifier
  url
  title
  team { id key }
  state { name type }
}
"""

# Creating an issue; `input.id` carries the UUID we chose so a retry can find it again.
# https://linear.app/developers/graphql (creating issues)
ISSUE_CREATE = (
    """
mutation Tier0IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) {
    success
    issue { ...Tier0IssueFields }
  }
}
"""
    + _ISSUE_FIELDS
)

# One issue by id, through the filtered `issues` connection: an unknown id is an empty list, not
# an error. https://linear.app/developers/filtering
ISSUE_BY_ID = (
    """
query Tier0IssueById($id: ID!) {
  issues(filter: { id: { eq: $id } }, first: 1, includeArchived: true) {
    nodes { ...Tier0IssueFields }
  }
}
"""
    + _ISSUE_FIELDS
)

# The attachments (links) that point at a URL: how we find the issue made for a ticket before
# making one. https://linear.app/developers/attachments
ATTACHMENTS_FOR_URL = (
    """
query Tier0AttachmentsForUrl($url: String!) {
  attachmentsForURL(url: $url, first: 10, includeArchived: true) {
    nodes {
      id
      url
      title
      issue { ...Tier0IssueFields }
    }
  }
}
"""
    + _ISSUE_FIELDS
)

# Linking the issue back to our ticket. Linear updates rather than duplicates an attachment with
# the same url and issueId. https://linear.app/developers/attachments
ATTACHMENT_CREATE = (
    """
mutation Tier0AttachmentCreate($input: AttachmentCreateInput!) {
  attachmentCreate(input: $input) {
    success
    attachment {
      id
      url
      title
      issue { ...Tier0IssueFields }
    }
  }
}
"""
    + _ISSUE_FIELDS
)

# A team by key or id (issueCreate needs the team's id). https://linear.app/developers/filtering
TEAMS = """
query Tier0Teams($filter: TeamFilter!) {
  teams(filter: $filter, first: 2) {
    nodes { id key name }
  }
}
"""

# Labels by name (case-insensitive), team-scoped and workspace-wide; we keep the ones that can go
# on an issue of the team. https://linear.app/developers/filtering
LABELS_BY_NAME = """
query Tier0LabelsByName($filter: IssueLabelFilter!, $first: Int!) {
  issueLabels(filter: $filter, first: $first) {
    nodes {
      id
      name
      isGroup
      team { id }
    }
  }
}
"""

# Who the API key acts as: its comments are ours, not to be mirrored back.
# https://linear.app/developers/graphql
VIEWER = """
query Tier0Viewer {
  viewer { id name }
}
"""

ALL_DOCUMENTS: dict[str, str] = {
    "ISSUE_CREATE": ISSUE_CREATE,
    "ISSUE_BY_ID": ISSUE_BY_ID,
    "ATTACHMENTS_FOR_URL": ATTACHMENTS_FOR_URL,
    "ATTACHMENT_CREATE": ATTACHMENT_CREATE,
    "TEAMS": TEAMS,
    "LABELS_BY_NAME": LABELS_BY_NAME,
    "VIEWER": VIEWER,
}
