//! Avatars: the phone uploads the file `chooseAvatar` gave it, and the site serves it.
//!
//! `chooseAvatar` hands the mini program a temporary file on the phone (`http://tmp/...`,
//! `wxfile://...`): a path that means nothing anywhere else. The mini program uploads it
//! here with `wx.uploadFile` (multipart), authorised by its scan token, once per scan. The
//! form's fields `scene` and `scan_token` come before the file (as `wx.uploadFile` sends
//! its `formData`) and are checked before a byte of the file is read, so a stranger cannot
//! make the server read 2 MiB. The image is
//! checked from its bytes (JPEG, PNG or WebP, whatever the name or type says), decoded
//! within limits, scaled to fit 256×256 and re-encoded as a JPEG, which strips whatever
//! else the file carried (EXIF, location). It is stored under the hash of what we made and
//! served from our own origin with a long cache; the profile then carries that path.
//!
//! These are plain axum handlers, not server functions: the upload is multipart from
//! `wx.uploadFile` with a body limit of its own (2 MiB, where the API's is 16 KiB), and
//! the image is bytes with caching headers, not JSON.

use std::{io::Cursor, net::SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, Multipart, Path, State},
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

use super::{context::AppState, context::Client, error::AppError, limits::Bucket};
use crate::protocol::{AvatarData, Envelope, ScanToken, SceneId};

/// Where the phone uploads.
pub const UPLOAD_PATH: &str = "/api/mp/avatar";
/// Where avatars are served: `/avatars/<id>`.
pub const SERVE_PREFIX: &str = "/avatars/";
/// An upload's body, in all.
pub const MAX_UPLOAD_BYTES: usize = 2 * 1024 * 1024;
/// The stored image fits in a square this wide.
pub const SIDE: u32 = 256;
/// Decoding refuses images larger than this each way (a small file can claim a huge
/// image) and allocations beyond the budget.
const MAX_DECODED_SIDE: u32 = 8192;
const MAX_DECODE_ALLOC: u64 = 128 * 1024 * 1024;

/// Decodes uploaded images, a few at a time (`SCANLOGIN_IMAGE_DECODES`; by default half
/// the cores, one on a 2-core machine): each may take `MAX_DECODE_ALLOC` and a core for a
/// while, so uploads at once wait for each other instead of pinning every core.
#[derive(Debug)]
pub struct Decoder {
    permits: tokio::sync::Semaphore,
}

impl Decoder {
    pub fn new(at_once: usize) -> Self {
        Self {
            permits: tokio::sync::Semaphore::new(at_once.max(1)),
        }
    }

    /// `file` as the avatar we store (see [`reencode`]).
    async fn reencode(&self, file: Bytes) -> Result<Vec<u8>, AppError> {
        self.run(move || reencode(&file)).await
    }

    /// Runs `decode` on the blocking pool when its turn comes.
    async fn run<T: Send + 'static>(
        &self,
        decode: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(|_| AppError::Busy)?;
        tokio::task::spawn_blocking(decode)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
    }
}
/// An avatar no user shows (its scan was cancelled, or it was replaced) is deleted after
/// this.
pub const UNUSED_KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `POST /api/mp/avatar`, multipart with `scene`, `scan_token` and the file `avatar`.
pub async fn upload(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Json<Envelope<AvatarData>>, AppError> {
    let client = Client::resolve(&state, &headers, peer.ip());
    state.limits.check(Bucket::Scans, client.key).await?;
    let form = Form::read(&state, multipart).await?;
    let image = state.avatar_decoder.reencode(form.file).await?;
    // One avatar per scan: claimed once the image is good, so a file that is not an
    // image costs the person nothing, and two uploads at once store one avatar.
    state
        .registry
        .claim_avatar(&form.scene, &form.scan_token)
        .await?;
    let id = id_of(&image);
    state.store.save_avatar(&id, &image).await?;
    Ok(Json(Envelope::ok(AvatarData {
        avatar_url: format!("{SERVE_PREFIX}{id}"),
    })))
}

/// `GET /avatars/<id>`: the image, cached for a year (its id is its content's hash).
pub async fn serve(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let found = if is_id(&id) {
        state.store.avatar(&id).await
    } else {
        Ok(None)
    };
    match found {
        Ok(Some(jpeg)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            jpeg,
        )
            .into_response(),
        Ok(None) => (axum::http::StatusCode::NOT_FOUND, "no such avatar").into_response(),
        Err(err) => err.into_response(),
    }
}

/// The upload's fields, its scan token checked before its file is read.
struct Form {
    scene: SceneId,
    scan_token: ScanToken,
    file: Bytes,
}

impl Form {
    /// The fields; on a refusal, the rest of the body is read and dropped after the answer
    /// (bounded by the body limit and deadlines): a server that closes while a proxy still
    /// sends makes the proxy answer 502 instead of our refusal.
    async fn read(state: &AppState, mut multipart: Multipart) -> Result<Self, AppError> {
        let read = Self::read_fields(state, &mut multipart).await;
        if read.is_err() {
            tokio::spawn(async move {
                while let Ok(Some(mut field)) = multipart.next_field().await {
                    while let Ok(Some(_)) = field.chunk().await {}
                }
            });
        }
        read
    }

    async fn read_fields(state: &AppState, multipart: &mut Multipart) -> Result<Self, AppError> {
        let malformed = |what: &str| AppError::Malformed(format!("avatar upload: {what}"));
        let too_large_or = |e: axum::extract::multipart::MultipartError, what: &str| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                AppError::TooLarge
            } else {
                malformed(what)
            }
        };
        let (mut scene, mut scan_token) = (None::<SceneId>, None::<ScanToken>);
        let mut checked = false;
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| too_large_or(e, "not a multipart form"))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let first_fields = "the fields scene and scan_token come first";
            if !checked && name != "scene" && name != "scan_token" {
                // Nothing else is read before the scan token is checked.
                return Err(malformed(first_fields));
            }
            if name == "avatar" {
                let (Some(scene), Some(scan_token)) = (scene, scan_token) else {
                    return Err(malformed(first_fields));
                };
                let file = field
                    .bytes()
                    .await
                    .map_err(|e| too_large_or(e, "the file could not be read"))?;
                return Ok(Self {
                    scene,
                    scan_token,
                    file,
                });
            }
            let bytes = field
                .bytes()
                .await
                .map_err(|e| too_large_or(e, "a field could not be read"))?;
            let text =
                || String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a field is not UTF-8"));
            match name.as_str() {
                "scene" if scene.is_none() => {
                    scene = Some(text()?.parse().map_err(|_| malformed("scene"))?)
                }
                "scan_token" if scan_token.is_none() => {
                    scan_token = Some(text()?.parse().map_err(|_| malformed("scan_token"))?)
                }
                "scene" | "scan_token" => return Err(malformed("a field repeats")),
                _ => {}
            }
            if let (false, Some(scene), Some(scan_token)) = (checked, &scene, &scan_token) {
                // Only the person who scanned, while the login awaits their decision.
                state.registry.scanner(scene, scan_token).await?;
                checked = true;
            }
        }
        Err(malformed("the file avatar is missing"))
    }
}

/// The uploaded image, checked from its bytes, scaled to fit `SIDE`×`SIDE`, as a JPEG.
fn reencode(file: &[u8]) -> Result<Vec<u8>, AppError> {
    let refused = || AppError::Malformed("avatar: a JPEG, PNG or WebP image".into());
    let mut reader = ImageReader::new(Cursor::new(file))
        .with_guessed_format()
        .map_err(|_| refused())?;
    if !matches!(
        reader.format(),
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return Err(refused());
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| refused())?;
    // Phones store photos as the sensor saw them, with the turn in EXIF.
    let orientation = image::ImageDecoder::orientation(&mut decoder)
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(|_| refused())?;
    image.apply_orientation(orientation);
    let small = if image.width() > SIDE || image.height() > SIDE {
        image.thumbnail(SIDE, SIDE)
    } else {
        image
    };
    let mut jpeg = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode_image(&on_white(&small))
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(jpeg.into_inner())
}

/// The image over a white background (JPEG has no transparency; dropping the alpha
/// channel would show what transparent pixels happen to hold, often black).
fn on_white(image: &image::DynamicImage) -> image::RgbImage {
    let rgba = image.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// Whether `id` has the shape of the ids `id_of` makes (profiles and requests may name only
/// those).
pub fn is_id(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An avatar's id: the SHA-256 of the stored image, base64url (43 characters).
fn id_of(image: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(image))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn images_are_scaled_to_fit_and_reencoded_as_jpeg() {
        let jpeg = reencode(&png(1000, 500)).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!(image::guess_format(&jpeg).unwrap(), ImageFormat::Jpeg);
        assert_eq!((back.width(), back.height()), (256, 128));
        let small = image::load_from_memory(&reencode(&png(40, 30)).unwrap()).unwrap();
        assert_eq!((small.width(), small.height()), (40, 30), "never enlarged");
    }

    #[test]
    fn transparent_pixels_become_white_not_black() {
        let clear = image::RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        let mut png = Cursor::new(Vec::new());
        clear.write_to(&mut png, ImageFormat::Png).unwrap();
        let back = image::load_from_memory(&reencode(&png.into_inner()).unwrap())
            .unwrap()
            .to_rgb8();
        assert!(
            back.get_pixel(1, 1).0.iter().all(|&c| c > 245),
            "{:?}",
            back.get_pixel(1, 1)
        );
    }

    #[test]
    fn only_jpeg_png_and_webp_bytes_are_accepted() {
        assert!(reencode(b"GIF89a\x01\x00\x01\x00").is_err());
        assert!(reencode(b"<svg xmlns='http://www.w3.org/2000/svg'/>").is_err());
        let mut truncated = png(100, 100);
        truncated.truncate(60);
        assert!(reencode(&truncated).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn images_are_decoded_as_many_at_a_time_as_allowed() {
        use std::sync::{
            atomic::{AtomicUsize, Ordering},
            Arc,
        };
        for allowed in [1, 2] {
            let decoder = Arc::new(Decoder::new(allowed));
            let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let jobs = (0..6).map(|_| {
                let (decoder, now, most) = (decoder.clone(), now.clone(), most.clone());
                tokio::spawn(async move {
                    decoder
                        .run(move || {
                            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(at_once, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(30));
                            now.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .await
                })
            });
            for job in futures::future::join_all(jobs).await {
                job.unwrap().unwrap();
            }
            assert_eq!(most.load(Ordering::SeqCst), allowed);
        }
    }

    #[test]
    fn a_small_file_of_a_huge_image_is_refused() {
        // A few hundred bytes that decode to more pixels than an avatar needs.
        let wide = png(MAX_DECODED_SIDE + 1, 1);
        assert!(wide.len() < 64 * 1024);
        assert!(reencode(&wide).is_err());
        assert!(reencode(&png(MAX_DECODED_SIDE, 1)).is_ok());
    }
}
