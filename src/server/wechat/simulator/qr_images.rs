//! `wxa/getwxacodeunlimit`: the scene checked as WeChat checks it, and a QR image drawn
//! that a phone (or a test) can scan: it leads to the app's phone page for the scene.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::header::CONTENT_TYPE,
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::time::Instant;

use super::{check_token, lock, QrImageFormat, Simulator, WeChatJson};
use crate::server::wechat::errcode::*;

/// The characters WeChat allows in a `scene`, besides ASCII letters and digits.
const SCENE_PUNCTUATION: &str = "!#$&'()*+,/:;=?@-._~";
pub(super) const SCENE_MAX_LEN: usize = 32;

#[derive(Deserialize)]
pub(super) struct WxaCodeBody {
    scene: Option<String>,
    page: Option<String>,
    check_path: Option<bool>,
    env_version: Option<String>,
    width: Option<u32>,
}

pub(super) async fn wxacode_unlimit(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let target = match check_wxacode(&sim, query.get("access_token").map(String::as_str), &body) {
        Ok(target) => target,
        Err(json) => return json.into_response(),
    };
    let format = sim.0.config.image;
    let drawn = match format {
        // Tens of microseconds at the usual widths: drawn here, as a thread hand-over
        // would cost as much.
        QrImageFormat::Png if target.1 <= DRAWN_ON_THE_WORKER_UP_TO => {
            Ok(render_qr(&target.0, target.1, format))
        }
        // A JPEG, or a wide PNG (up to 1280 px, nine times the pixels): off the workers.
        _ => tokio::task::spawn_blocking(move || render_qr(&target.0, target.1, format)).await,
    };
    match drawn {
        Ok(Ok((content_type, image))) => ([(CONTENT_TYPE, content_type)], image).into_response(),
        Ok(Err(e)) => sim.error(-1, &format!("system error: {e}")).into_response(),
        Err(_) => sim.error(-1, "system error").into_response(),
    }
}

/// Checks a code request as WeChat does; on success, what the code encodes and its width.
pub(super) fn check_wxacode(
    sim: &Simulator,
    token: Option<&str>,
    body: &[u8],
) -> Result<(String, u32), WeChatJson> {
    check_token(sim, token)?;
    {
        let mut window = lock(&sim.0.code_window);
        let now = Instant::now();
        if now.duration_since(window.0) >= Duration::from_secs(60) {
            *window = (now, 0);
        }
        if window.1 >= sim.0.config.codes_per_minute {
            drop(window);
            return Err(sim.error(QUOTA_LIMIT, "reach max api daily quota limit"));
        }
        window.1 += 1;
    }
    let body: WxaCodeBody = serde_json::from_slice(body).map_err(|_| {
        sim.error(
            INVALID_SCENE_LENGTH,
            "invalid length for scene, or the data is not json string",
        )
    })?;
    let scene = body.scene.unwrap_or_default();
    if scene.is_empty() || scene.chars().count() > SCENE_MAX_LEN {
        return Err(sim.error(
            INVALID_SCENE_LENGTH,
            "invalid length for scene, or the data is not json string",
        ));
    }
    if !scene
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || SCENE_PUNCTUATION.contains(c))
    {
        return Err(sim.error(INVALID_SCENE, "invalid scene"));
    }
    let env_version = body.env_version.as_deref().unwrap_or("release");
    if !matches!(env_version, "release" | "trial" | "develop") {
        return Err(sim.error(INVALID_ARGS, "invalid args"));
    }
    if let Some(page) = body.page.as_deref().filter(|p| !p.is_empty()) {
        let well_formed = !page.starts_with('/')
            && page.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            });
        let exists = sim.has_page(page);
        if !well_formed || (body.check_path.unwrap_or(true) && !exists) {
            return Err(sim.error(INVALID_PAGE, "invalid page"));
        }
    }
    let width = body.width.unwrap_or(430).clamp(280, 1280);
    let target = format!(
        "{}/phone?scene={}",
        sim.0.config.public_origin.trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(scene.as_bytes()).collect::<String>()
    );
    Ok((target, width))
}

/// The widest PNG code drawn on an async worker (WeChat's default is 430 px).
const DRAWN_ON_THE_WORKER_UP_TO: u32 = 640;

/// A QR code of `text` at least `width` pixels wide, with its content type.
///
/// WeChat draws the real codes; the simulator's only have to scan. In demo mode one is
/// drawn for every login, in the server's own process, so it is drawn cheaply: one fixed
/// mask (choosing the best of the eight, as QR libraries do by default, was most of the
/// drawing's time) and whole pixels per module with the standard's 4-module quiet zone.
/// The PNG has one bit per pixel (an eighth of the bytes of a grey image to filter and
/// compress, and no 200 KB buffer per code) and is compressed fast with the Up filter (a
/// module row repeats its pixel rows, which that filter turns to zeros): about 2.6 KB at
/// 430 px, drawn in tens of microseconds. The JPEG (WeChat's format and size, for
/// measuring memory) is a grey image.
pub(super) fn render_qr(
    text: &str,
    width: u32,
    format: QrImageFormat,
) -> Result<(&'static str, Vec<u8>), String> {
    use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};
    const QUIET: usize = 4;
    let code = QrCode::encode_segments_advanced(
        &QrSegment::make_segments(text),
        QrCodeEcc::Medium,
        Version::MIN,
        Version::MAX,
        Some(Mask::new(0)),
        false,
    )
    .map_err(|e| e.to_string())?;
    let size = code.size().unsigned_abs() as usize;
    let scale = (width as usize).div_ceil(size + 2 * QUIET).max(1);
    let side = (size + 2 * QUIET) * scale;
    // Each module row is drawn once as a grey pixel row (0 dark, 255 light), encoded into
    // the image's row format, and repeated `scale` times.
    let code = &code;
    let draw = |bytes_per_row: usize, encode: &dyn Fn(&[u8], &mut [u8])| {
        let mut image = vec![u8::MAX; bytes_per_row * side];
        let mut grey = vec![u8::MAX; side];
        for y in 0..size {
            grey.fill(u8::MAX);
            for x in (0..size).filter(|&x| code.get_module(x as i32, y as i32)) {
                grey[(x + QUIET) * scale..(x + QUIET + 1) * scale].fill(0);
            }
            let top = (y + QUIET) * scale * bytes_per_row;
            encode(&grey, &mut image[top..top + bytes_per_row]);
            for copy in 1..scale {
                image.copy_within(top..top + bytes_per_row, top + copy * bytes_per_row);
            }
        }
        image
    };
    let side_u32 = u32::try_from(side).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let content_type = match format {
        QrImageFormat::Png => {
            // Grey at one bit per pixel: 1 is white, the first pixel the highest bit.
            let bits = draw(side.div_ceil(8), &|grey, row| {
                for (byte, eight) in row.iter_mut().zip(grey.chunks(8)) {
                    *byte = eight.iter().enumerate().fold(u8::MAX, |b, (i, &p)| {
                        if p == 0 {
                            b & !(0x80 >> i)
                        } else {
                            b
                        }
                    });
                }
            });
            let mut encoder = png::Encoder::new(&mut out, side_u32, side_u32);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            encoder.set_compression(png::Compression::Fast);
            encoder.set_filter(png::Filter::Up);
            let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
            writer.write_image_data(&bits).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
            "image/png"
        }
        QrImageFormat::Jpeg => {
            let grey = draw(side, &|grey, row| row.copy_from_slice(grey));
            let image = image::GrayImage::from_raw(side_u32, side_u32, grey)
                .ok_or("a QR image's pixels")?;
            // Quality 50 on sharp black-and-white edges: about 25 KiB at 430 px, as WeChat's.
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50)
                .encode_image(&image)
                .map_err(|e| e.to_string())?;
            "image/jpeg"
        }
    };
    Ok((content_type, out))
}
