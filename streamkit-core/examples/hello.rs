use streamkit_core::{generate_key, Peer, PeerOption};

#[tokio::main]
async fn main() -> streamkit_core::Result<()> {
    let key = generate_key(); // or a path such as ~/.ssh/id_ed25519
    let server = Peer::new();
    server.set_option_str(PeerOption::Name, "server")?;
    server.set_option_str(PeerOption::PrivateKey, &key)?; // same key: the peers trust each other
    let endpoint = server.bind("tcp://127.0.0.1:0").await?;

    let client = Peer::new();
    client.set_option_str(PeerOption::PrivateKey, &key)?;
    client.connect(&endpoint).await?;

    let s = server.clone();
    tokio::spawn(async move {
        while let Ok(ch) = s.accept().await {
            while let Ok(Some(frame)) = ch.read_frame().await {
                let reply = [ch.service().as_bytes(), b": ", &frame[..]].concat();
                ch.write_frame(&reply).await.ok();
            }
        }
    });

    let ch = client
        .open("server", "echo", &["user=me".to_string()])
        .await?;
    ch.write_frame(b"hello").await?;
    match ch.read_frame().await? {
        Some(reply) => println!("{}", String::from_utf8_lossy(&reply)), // echo: hello
        None => eprintln!("the server closed the channel without replying"),
    }
    ch.close().await?;
    client.shutdown().await?;
    server.shutdown().await
}
