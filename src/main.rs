//! lanchat: a LAN chat appliance. Work in progress skeleton.
fn main() {
    println!("lanchat");
}
