//! Random identifiers for accounts and devices.

use rand_core::CryptoRng;

use crate::crypto::dh::Hex;

/// Length of an account or device id.
pub const ID_LEN: usize = 16;

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; ID_LEN]);

        impl $name {
            /// A fresh random id.
            pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; ID_LEN];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// Wraps 16 bytes.
            #[must_use]
            pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
                Self(bytes)
            }

            /// Parses exactly 16 bytes.
            #[must_use]
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(Self)
            }

            /// The raw bytes.
            #[must_use]
            pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }

            /// Lowercase hex, as shown to people and used in file names.
            #[must_use]
            pub fn to_hex(&self) -> String {
                format!("{:?}", Hex(&self.0))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), Hex(&self.0))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{:?}", Hex(&self.0))
            }
        }
    };
}

random_id!(
    /// An account's public name: 16 random bytes, nothing personal.
    AccountId
);
random_id!(
    /// A device of an account: 16 random bytes.
    DeviceId
);
