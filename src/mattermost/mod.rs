//! The typed Mattermost client: REST, WebSocket and models. Nothing outside this module builds a Mattermost URL.
