// Starts DynamoDB Local (the real AWS jar) bound to one address instead of all interfaces.
//
// DynamoDBLocal.jar has no option for the listen address: its DynamoDBProxyServer builds a
// Jetty Server from the port alone, which binds 0.0.0.0. This launcher builds the server
// from the usual command-line arguments, sets the Jetty connector's host before start,
// then runs it like the jar's own main. Run with Java's source-file mode:
//
//   java -Djava.library.path=DIR/DynamoDBLocal_lib -Dddblocal.host=127.0.0.1 \
//     -cp 'DIR/DynamoDBLocal.jar:DIR/DynamoDBLocal_lib/*' DynamoDBLocalLoopback.java \
//     -inMemory -disableTelemetry -port N
import com.amazonaws.services.dynamodbv2.local.main.ServerRunner;
import com.amazonaws.services.dynamodbv2.local.server.DynamoDBProxyServer;
import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

public class DynamoDBLocalLoopback {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("ddblocal.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server server = (Server) field.get(proxy);
    Connector[] connectors = server.getConnectors();
    if (connectors.length == 0) {
      throw new IllegalStateException("DynamoDB Local created no connector");
    }
    for (Connector c : connectors) {
      ((ServerConnector) c).setHost(host);
    }
    proxy.start();
    System.out.println("DynamoDBLocalLoopback: listening on " + host + ":" + ((ServerConnector) connectors[0]).getLocalPort());
    proxy.join();
  }
}
