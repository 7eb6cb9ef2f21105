//! What the registry's list becomes: the `Channel` enum, the way back to a
//! customer (`ReplyTarget`), each enabled channel's settings (`Enabled`),
//! and one function per concern that hands the work to the channel's module.
//! Each `module::Type` line declares `pub mod module;`, whose `Type`
//! implements `ChannelModule`; the variant is named `Type`, the channel
//! `module` (in `[channels.<name>]`, `/webhooks/<name>` and stored data).

macro_rules! registry {
    ($($module:ident :: $variant:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The channels Accueil speaks, one per module of `channels`.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum Channel {
            $($variant),+
        }

        impl Channel {
            pub const ALL: &'static [Channel] = &[$(Channel::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Channel::$variant => stringify!($module)),+
                }
            }

            pub fn parse(s: &str) -> Option<Channel> {
                Channel::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }

        impl std::fmt::Display for Channel {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Where and how an acknowledgement goes back: on the channel the
        /// message came in, in that channel's terms.
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "channel", rename_all = "lowercase")]
        pub enum ReplyTarget {
            $($variant(<$module::$variant as ChannelModule>::Target)),+
        }

        impl ReplyTarget {
            /// A thread reference the customer was already shown, which a
            /// new thread must then take.
            pub fn promised_reference(&self) -> Option<&ThreadId> {
                match self {
                    $(ReplyTarget::$variant(target) =>
                        <$module::$variant as ChannelModule>::promised_reference(target)),+
                }
            }
        }

        /// The settings of each channel this business enabled.
        #[derive(Debug, Clone, Default)]
        pub struct Enabled {
            $(pub $module: Option<<$module::$variant as ChannelModule>::Settings>),+
        }

        impl Enabled {
            /// Reads the `[channels.*]` tables; a table no channel is named
            /// after is an error naming it.
            pub(crate) fn read(
                tables: std::collections::BTreeMap<String, toml::Value>,
                secrets: &dyn SecretSource,
            ) -> Result<Enabled, ConfigError> {
                let mut enabled = Enabled::default();
                for (name, table) in tables {
                    match name.as_str() {
                        $(stringify!($module) => {
                            enabled.$module = Some(read_section::<$module::$variant>(
                                &name, table, secrets,
                            )?);
                        })+
                        other => {
                            let known: Vec<&str> =
                                Channel::ALL.iter().map(|c| c.as_str()).collect();
                            return Err(ConfigError::new(
                                format!("channels.{other}"),
                                format!("no such channel (channels: {})", known.join(", ")),
                            ));
                        }
                    }
                }
                Ok(enabled)
            }

            /// The enabled channels, in the registry's order.
            pub fn channels(&self) -> Vec<Channel> {
                let mut channels = Vec::new();
                $(if self.$module.is_some() {
                    channels.push(Channel::$variant);
                })+
                channels
            }
        }

        /// The channel's name as the owner reads it, in the business's language.
        pub fn label(channel: Channel, lang: Language) -> &'static str {
            match channel {
                $(Channel::$variant => <$module::$variant as ChannelModule>::label(lang)),+
            }
        }

        /// A channel's webhook: the HTTP methods it answers and its path.
        pub fn webhook(channel: Channel) -> (&'static str, &'static str) {
            match channel {
                $(Channel::$variant => <$module::$variant as ChannelModule>::WEBHOOK),+
            }
        }

        /// A customer's address on the channel that its sample webhook takes.
        pub fn demo_sender(channel: Channel) -> &'static str {
            match channel {
                $(Channel::$variant => <$module::$variant as ChannelModule>::DEMO_SENDER),+
            }
        }

        /// How long the provider lets the business write back after a
        /// customer's message, when it limits that.
        pub fn reply_window(channel: Channel) -> Option<std::time::Duration> {
            match channel {
                $(Channel::$variant => <$module::$variant as ChannelModule>::REPLY_WINDOW),+
            }
        }

        /// The longest owner's reply the channel's provider takes, in bytes.
        pub fn max_reply_bytes(channel: Channel) -> usize {
            match channel {
                $(Channel::$variant => <$module::$variant as ChannelModule>::MAX_REPLY_BYTES),+
            }
        }

        /// The webhook routes of the channels this business enabled.
        pub fn routes(inbound: &Arc<Inbound>) -> Router {
            let enabled = &inbound.config.channels;
            let mut router = Router::new();
            $(if let Some(settings) = &enabled.$module {
                router = router.merge(
                    <$module::$variant as ChannelModule>::routes(inbound, settings),
                );
            })+
            router
        }

        /// Shapes the acknowledgement for the envelope's channel. None when
        /// the channel is no longer enabled (the envelope was queued before
        /// a change of configuration).
        pub fn acknowledgement(
            config: &Config,
            envelope: &Envelope,
            text: &AckText,
        ) -> Option<Outbound> {
            match &envelope.reply_to {
                $(ReplyTarget::$variant(target) => config.channels.$module.as_ref().map(
                    |settings| <$module::$variant as ChannelModule>::acknowledgement(
                        config, settings, envelope, target, text,
                    ),
                )),+
            }
        }

        /// The API of a channel that acknowledges through one, if it is enabled.
        pub fn api(config: &Config, channel: Channel) -> Option<Api> {
            match channel {
                $(Channel::$variant => config.channels.$module.as_ref()
                    .and_then(<$module::$variant as ChannelModule>::api)),+
            }
        }

        /// Where the owner answers a thread from the digest, when its
        /// channel has a link for it.
        pub fn reply_link(config: &Config, thread: &Thread) -> Option<String> {
            let addresses = addresses_on_channel(thread);
            match thread.channel {
                $(Channel::$variant => config.channels.$module.as_ref().and_then(|settings|
                    <$module::$variant as ChannelModule>::reply_link(settings, thread, &addresses))),+
            }
        }

        /// The owner's reply to the thread's customer, shaped for its
        /// channel as a person's message; why not when the channel cannot
        /// take it (not enabled, no address it writes to).
        pub fn owner_reply(
            config: &Config,
            thread: &ThreadWithMessages,
            reply: &Message,
        ) -> Result<Outbound, NoReply> {
            let addresses = addresses_on_channel(&thread.thread);
            match thread.thread.channel {
                $(Channel::$variant => {
                    let settings = config.channels.$module.as_ref().ok_or(NoReply::NotEnabled)?;
                    <$module::$variant as ChannelModule>::owner_reply(
                        config, settings, thread, &addresses, reply,
                    )
                    .ok_or(NoReply::NoAddress)
                })+
            }
        }

        /// The headers that make `body` an authentic webhook of the channel.
        pub fn signature(
            config: &Config,
            channel: Channel,
            body: &[u8],
        ) -> Result<Vec<(&'static str, String)>, SampleError> {
            match channel {
                $(Channel::$variant => {
                    let settings = config.channels.$module.as_ref()
                        .ok_or(SampleError::NotEnabled(channel))?;
                    Ok(<$module::$variant as ChannelModule>::signature(settings, body))
                })+
            }
        }

        /// A sample webhook of the channel, for `accueil simulate`.
        pub fn sample(
            config: &Config,
            channel: Channel,
            sample: &Sample<'_>,
        ) -> Result<SampleRequest, SampleError> {
            match channel {
                $(Channel::$variant => {
                    let settings = config.channels.$module.as_ref()
                        .ok_or(SampleError::NotEnabled(channel))?;
                    <$module::$variant as ChannelModule>::sample(settings, sample)
                })+
            }
        }
    };
}
